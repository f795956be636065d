// Behaves like the original web client's score loop, without its code, on the real
// socket.io-client v4: connect with `auth: {userId}` only (no protocol version: an original
// client), `join_session`, and re-arm a 1 s timer on EVERY event received (the page re-renders
// on each event, and each render re-arms the timer); when the timer fires, send
// `update_coherence` with the client's score. A score counts as seen when the next
// `group_metrics_update` carries it: alone in the room, the group average IS that score.
//
// After SECONDS it prints one JSON line `{"sent", "seen", "groupUpdates", "events"}` and exits
// 0; 1 on a connection error, 2 when the hub disconnects it.
//
// Usage: node rerender-client.mjs URL USER_ID SECONDS [ROOM_CODE]
import { io } from "socket.io-client";

const [url, userId, seconds, roomCode] = process.argv.slice(2);
const auth = roomCode ? { userId, roomCode } : { userId };
const socket = io(url, { auth, transports: ["websocket"], reconnection: false });

let sent = 0;
let seen = 0;
let groupUpdates = 0;
let events = 0;
let pendingScore = null;
let timer = null;
let finished = false;

// Distinct consecutive scores, so an answer cannot be mistaken for the previous one's.
const scoreNumber = (n) => 50 + (n % 7) * 3;

function sendScore() {
  timer = null;
  const coherence = scoreNumber(sent);
  sent += 1;
  pendingScore = coherence;
  socket.emit("update_coherence", { coherence });
}

function rearm() {
  if (timer !== null) clearTimeout(timer);
  timer = setTimeout(sendScore, 1000);
}

socket.onAny((event, data) => {
  events += 1;
  if (event === "group_metrics_update") {
    groupUpdates += 1;
    const average = data?.groupMetrics?.averageCoherence;
    if (pendingScore !== null && average === pendingScore) {
      seen += 1;
      pendingScore = null;
    }
  }
  if (event === "error") {
    process.stdout.write(JSON.stringify({ event, data }) + "\n");
  }
  rearm();
});

socket.on("connect", () => {
  socket.emit("join_session", { intention: { category: "grief" } });
  setTimeout(() => {
    finished = true;
    if (timer !== null) clearTimeout(timer);
    process.stdout.write(JSON.stringify({ sent, seen, groupUpdates, events }) + "\n");
    socket.disconnect();
    process.exit(0);
  }, Number(seconds) * 1000);
});

socket.on("disconnect", (reason) => {
  if (finished) return;
  process.stdout.write(JSON.stringify({ event: "disconnect", data: { reason } }) + "\n");
  process.exit(2);
});

socket.on("connect_error", (error) => {
  process.stdout.write(JSON.stringify({ event: "connect_error", data: { message: error.message } }) + "\n");
  process.exit(1);
});
