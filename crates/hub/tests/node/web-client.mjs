// Does exactly what the original web client does with the real socket.io-client v4:
// connect with `auth: {userId}` over the websocket transport, `join_session` with an
// intention, then `update_coherence` with its own score. Every event it receives is printed
// to stdout as one JSON line `{"event", "data"}`; it exits 0 once it has seen the original
// events the test waits for, 1 on a timeout or a connection error, 2 when the hub disconnects it.
//
// Usage: node web-client.mjs URL USER_ID [ROOM_CODE]
import { io } from "socket.io-client";

const [url, userId, roomCode] = process.argv.slice(2);
const auth = roomCode ? { userId, roomCode } : { userId };
const socket = io(url, { auth, transports: ["websocket"], reconnection: false });

const wanted = new Set(["session_joined", "personal_feedback", "group_metrics_update", "participant_update"]);
const seen = new Set();
let done = false;
const print = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const timer = setTimeout(() => {
  print("timeout", { missing: [...wanted].filter((name) => !seen.has(name)) });
  process.exit(1);
}, 20000);

socket.onAny((event, data) => {
  print(event, data);
  seen.add(event);
  if (event === "session_joined") {
    socket.emit("update_coherence", { coherence: 72 });
  }
  if ([...wanted].every((name) => seen.has(name))) {
    clearTimeout(timer);
    done = true;
    socket.emit("leave_session");
    socket.disconnect();
    process.exit(0);
  }
});

socket.on("connect", () => {
  socket.emit("join_session", { intention: { category: "grief", note: "a private note" } });
});

socket.on("disconnect", (reason) => {
  if (done) return;
  print("disconnect", { reason });
  process.exit(2);
});

socket.on("connect_error", (error) => {
  print("connect_error", { message: error.message });
  process.exit(1);
});
