// A Socket.IO client that sends one message over the hub's read limit after joining, then a
// neighbour's view: it prints every event it receives, and how its connection ended, as JSON
// lines `{"event", "data"}`; the last line is `{"event": "disconnect", "data": {reason}}`.
// Exits 0 once disconnected, 1 if the hub kept the connection open for 20 s.
//
// Usage: node oversize-client.mjs URL USER_ID TRANSPORT(websocket|polling) SIZE_KIB
import { io } from "socket.io-client";

const [url, userId, transport, sizeKib] = process.argv.slice(2);
const socket = io(url, { auth: { userId }, transports: [transport], reconnection: false });
const print = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const timer = setTimeout(() => {
  print("timeout", {});
  process.exit(1);
}, 20000);

let sent = false;
socket.onAny((event, data) => {
  print(event, data);
  if (event === "session_joined" && !sent) {
    sent = true;
    socket.emit("update_coherence", { coherence: 50, pad: "x".repeat(Number(sizeKib) * 1024) });
  }
});
socket.on("connect", () => socket.emit("join_session", { intention: "grief" }));
socket.on("connect_error", (error) => {
  print("connect_error", { message: error.message });
  process.exit(1);
});
socket.on("disconnect", (reason) => {
  clearTimeout(timer);
  print("disconnect", { reason, sent });
  process.exit(0);
});
