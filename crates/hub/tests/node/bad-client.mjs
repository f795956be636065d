// A Socket.IO client that misbehaves on purpose: after joining, it sends payloads that break
// the contract and prints every event it receives as one JSON line `{"event", "data"}`. It
// exits 0 once it has seen one `error` per bad payload and a `group_metrics_update` after
// them (the hub kept serving it), 1 on a timeout.
//
// Usage: node bad-client.mjs URL USER_ID
import { io } from "socket.io-client";

const [url, userId] = process.argv.slice(2);
const socket = io(url, { auth: { userId }, transports: ["websocket"], reconnection: false });
const print = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const bad = [
  ["update_coherence", { coherence: "55" }],
  ["update_coherence", { coherence: 250 }],
  ["rr_intervals", { rr: [] }],
  ["rr_intervals", { rr: [800, -1] }],
  ["no_such_event", {}],
  ["update_coherence", { coherence: 50, pad: "x".repeat(100 * 1024) }],
];
let errors = 0;
let sentBad = false;

const timer = setTimeout(() => {
  print("timeout", { errors });
  process.exit(1);
}, 20000);

socket.onAny((event, data) => {
  print(event, data);
  if (event === "session_joined" && !sentBad) {
    sentBad = true;
    for (const [name, payload] of bad) socket.emit(name, payload);
  }
  if (event === "error") errors += 1;
  if (event === "group_metrics_update" && errors === bad.length) {
    clearTimeout(timer);
    socket.disconnect();
    process.exit(0);
  }
});

socket.on("connect", () => socket.emit("join_session", { intention: "grief" }));
socket.on("connect_error", (error) => {
  print("connect_error", { message: error.message });
  process.exit(1);
});
