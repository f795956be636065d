#!/usr/bin/env bash
# End-to-end test of the desktop app, driven the way a facilitator uses it:
#   src-tauri/tests/desktop.sh            (from anywhere; builds the debug app first)
#
# It starts a private X server (Xvfb), tauri-driver (which runs Debian's WebKitWebDriver) and,
# through plain W3C WebDriver calls, the real `synchub-desktop` with its embedded hub on
# loopback (no mDNS, a fresh data folder). It checks that
#   1. the console (ui/dist) renders the room name it fetched from the embedded hub, and its live
#      link to the hub (Socket.IO) comes up;
#   2. the page reaches the hub itself: `hub_connection` over IPC, then /api/hub with the admin
#      token (CSP and CORS allow the desktop origin);
#   2b. when the hub's engine fails mid-session (the test-only fault hook: this script builds the
#      app with the `fault-injection` feature, which a release build never has), the app
#      restarts its hub on the same address, the window says so (the restart banner: the
#      session resumed), and the console's live link comes back;
#   3. `list_monitors` sees the X screen, a click on "Show the mandala here" starts the real
#      projector on it, and a monitor that does not exist gives the facilitator one clear sentence;
#   4. closing the window stops everything cleanly: projector gone, the hub's "everything is
#      stored" line logged, the SQLite file in the data folder, exit code 0;
#   5. SIGTERM stops a second run of the app just as cleanly.
# The console's screenshot goes to docs/desktop.png.
#
# Needs: libwebkit2gtk-4.1-dev, webkit2gtk-driver, xvfb (Debian), tauri-driver
# (`cargo install tauri-driver --locked`), python3, curl, and the built console in ui/dist.
# Environment: CARGO_TARGET_DIR as for cargo; DESKTOP_CARGO_PROFILE=test to build with the test
# profile (reusing `cargo nextest`'s compiled dependencies; default dev); DESKTOP_SKIP_BUILD=1 to
# reuse a build; DESKTOP_SCREENSHOT=PATH to write the screenshot elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
app="$target_dir/debug/synchub-desktop"
screenshot="${DESKTOP_SCREENSHOT:-$root/docs/desktop.png}"
room_name="Desktop Test Room"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf -- '--- %s\n' "$*"; }

for tool in Xvfb WebKitWebDriver tauri-driver curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (see the header of this script)"
done
if [ ! -f ui/dist/index.html ]; then
  fail "ui/dist/index.html is missing: build the console first (npm --prefix ui ci && npm --prefix ui run build)"
fi

if [ "${DESKTOP_SKIP_BUILD:-0}" != 1 ]; then
  # `dev` or `test`: both write target/debug; scripts/test passes `test` to reuse the
  # dependencies nextest has just compiled.
  profile="${DESKTOP_CARGO_PROFILE:-dev}"
  note "building synchub-desktop and synchub-projector (profile $profile)"
  cargo build --locked --profile "$profile" -p synchub-desktop -p synchub-projector \
    --features synchub-desktop/fault-injection
fi
[ -x "$app" ] || fail "no app at $app"
[ -x "$target_dir/debug/synchub-projector" ] || fail "no projector next to the app"

work=$(mktemp -d)
pids=()
cleanup() {
  # Only what this script started, by pid, newest first.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [ -f "$work/app.pid" ]; then kill "$(cat "$work/app.pid")" 2>/dev/null || true; fi
  # WebKit's helper processes may still be writing their caches for a moment after the app.
  for _ in $(seq 25); do rm -rf "$work" 2>/dev/null && break; sleep 0.2; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A private X server; -displayfd picks a free display number and tells us which.
Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
export DISPLAY=":$(cat "$work/display")"
note "Xvfb on $DISPLAY"

# The app runs through a wrapper that records its pid and its exit code, since WebKitWebDriver
# (not this script) is its parent.
cat >"$work/app.sh" <<WRAPPER
#!/bin/sh
"$app" "\$@" &
echo \$! >"$work/app.pid"
wait \$!
echo \$? >"$work/exit-code"
WRAPPER
chmod +x "$work/app.sh"

# The embedded hub: loopback only, no mDNS, a fresh data folder, a known room name.
export SYNCHUB_DATA_DIR="$work/data" SYNCHUB_NO_MDNS=1 SYNCHUB_BIND=127.0.0.1 SYNCHUB_PORT=0
export SYNCHUB_ROOM_NAME="$room_name" RUST_LOG="${RUST_LOG:-info}"
# WebKit keeps its caches in the app's data folder whatever SYNCHUB_DATA_DIR says: keep them
# (and anything else per-user) in the scratch folder, not in this user's home.
export XDG_DATA_HOME="$work/xdg/data" XDG_CACHE_HOME="$work/xdg/cache" XDG_CONFIG_HOME="$work/xdg/config"
# No accessibility bus under Xvfb; without this GTK warns on every start.
export NO_AT_BRIDGE=1
# The POSIX locale, as on CI machines: WebKitGTK then reports navigator.language "c", which
# Intl rejects; the console must render anyway (ui/src/lib/locale-guard.ts).
export LANG=C.UTF-8

driver_port=$(free_port)
native_port=$(free_port)
tauri-driver --port "$driver_port" --native-port "$native_port" >"$work/driver.log" 2>&1 &
pids+=($!)
driver="http://127.0.0.1:$driver_port"
for _ in $(seq 100); do curl -fsS -m 2 "$driver/status" >/dev/null 2>&1 && break; sleep 0.1; done

# POST/GET/DELETE to the driver; prints the response's JSON `value`. Bounded in time: a driver
# waits forever for an app that exited at start.
webdriver() {
  local method=$1 path=$2 body=${3:-}
  local response
  if [ -n "$body" ]; then
    response=$(curl -sS -m 90 -X "$method" -H 'Content-Type: application/json' --data "$body" "$driver$path") \
      || fail "WebDriver $method $path gave no answer; the app said: $(tail -20 "$work/driver.log")"
  else
    response=$(curl -sS -m 90 -X "$method" "$driver$path") \
      || fail "WebDriver $method $path gave no answer; the app said: $(tail -20 "$work/driver.log")"
  fi
  python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]).get("value")))' "$response"
}
# Evaluates a Python expression over a JSON value `v` (extra arguments are sys.argv[3:]).
json_field() { python3 -c 'import json, sys; v = json.loads(sys.argv[1]); print(eval(sys.argv[2], {"v": v, "sys": sys}))' "$@"; }
# Runs an async script in the page; its single argument is `done`.
run_async() { webdriver POST "/session/$session/execute/async" "$(python3 -c 'import json, sys; print(json.dumps({"script": sys.argv[1], "args": []}))' "$1")"; }

started=$(date +%s.%N)
capabilities=$(python3 -c 'import json, sys; print(json.dumps({"capabilities": {"alwaysMatch": {"tauri:options": {"application": sys.argv[1]}}}}))' "$work/app.sh")
created=$(webdriver POST /session "$capabilities")
session=$(json_field "$created" 'v.get("sessionId", "")')
[ -n "$session" ] || fail "no WebDriver session: $created; driver log: $(tail -20 "$work/driver.log")"
note "session $session (app started in $(python3 -c "print(round($(date +%s.%N) - $started, 2))") s)"

# 1. The console shows the room name, which it can only know from the embedded hub, and its
# live link (Socket.IO through the CSP, CORS for tauri://localhost) comes up.
state=""
for _ in $(seq 150); do
  state=$(webdriver POST "/session/$session/execute/sync" '{"script": "const name = document.querySelector(\".room-name\"); const live = document.querySelector(\"[data-testid=live-status]\"); return { name: name && name.textContent, live: live && live.className, text: document.body ? document.body.innerText.slice(0, 400) : \"\" };", "args": []}')
  if [ "$(json_field "$state" 'v["name"] == sys.argv[3] and "live-on" in (v["live"] or "")' "$room_name")" = True ]; then break; fi
  sleep 0.2
done
[ "$(json_field "$state" 'v["name"]')" = "$room_name" ] || fail "the console never showed \"$room_name\"; it shows: $state"
[[ "$(json_field "$state" 'v["live"]')" == *live-on* ]] || fail "the console's live link never came up: $state"
title=$(webdriver POST "/session/$session/execute/sync" '{"script": "return document.title", "args": []}')
note "console rendered (title $title), room \"$room_name\", live, after $(python3 -c "print(round($(date +%s.%N) - $started, 2))") s"

# 2. The page's own way to the hub: IPC for the address and token, then HTTP with the token.
hub=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("hub_connection")
    .then((c) => fetch(c.baseUrl + "/api/hub", { headers: { Authorization: "Bearer " + c.adminToken } })
      .then((r) => r.json().then((body) => done({ baseUrl: c.baseUrl, tokenLength: c.adminToken.length, status: r.status, body }))))
    .catch((e) => done({ error: String(e) }));')
[ "$(json_field "$hub" 'v.get("status")')" = 200 ] || fail "/api/hub from the page: $hub"
[ "$(json_field "$hub" 'v["tokenLength"]')" = 64 ] || fail "the admin token was not handed over: $hub"
[[ "$(json_field "$hub" 'v["baseUrl"]')" == http://127.0.0.1:* ]] || fail "unexpected hub URL: $hub"
[[ "$hub" == *"$room_name"* ]] || fail "/api/hub does not name the room: $hub"
note "page -> IPC -> hub: $(json_field "$hub" 'v["baseUrl"]') answered /api/hub with the admin token"

# The screenshot, before the projector covers the screen.
mkdir -p "$(dirname "$screenshot")"
curl -sS -m 90 "$driver/session/$session/screenshot" >"$work/screenshot.json"
python3 -c 'import base64, json, sys; open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["value"]))' \
  "$work/screenshot.json" "$screenshot"
note "screenshot: $screenshot"

# 2b. The hub's engine fails mid-session: the app restarts the hub, the window says so.
started_session=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("hub_connection")
    .then((c) => fetch(c.baseUrl + "/api/sessions", { method: "POST", headers: { Authorization: "Bearer " + c.adminToken } })
      .then((r) => r.text().then((body) => done({ status: r.status, body }))))
    .catch((e) => done({ error: String(e) }));')
# 409: the room's schedule has started one already; either way a session runs.
[ "$(json_field "$started_session" 'v.get("status") in (200, 201, 409)')" = True ] \
  || fail "starting a session from the page: $started_session"
failing=$(date +%s.%N)
injected=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("hub_connection")
    .then((c) => fetch(c.baseUrl + "/api/faults/engine-panic", { method: "POST", headers: { Authorization: "Bearer " + c.adminToken } })
      .then((r) => done({ status: r.status })))
    .catch((e) => done({ error: String(e) }));')
[ "$(json_field "$injected" 'v.get("status")')" = 202 ] \
  || fail "the fault hook did not take the engine panic (is the app built with fault-injection?): $injected"
banner=""
for _ in $(seq 200); do
  banner=$(webdriver POST "/session/$session/execute/sync" '{"script": "const b = document.querySelector(\"[data-testid=restart-banner]\"); const live = document.querySelector(\"[data-testid=live-status]\"); return { banner: b ? b.innerText : \"\", live: live ? live.className : \"\" };", "args": []}')
  if [ "$(json_field "$banner" '"the session resumed" in v["banner"] and "live-on" in v["live"]')" = True ]; then break; fi
  sleep 0.1
done
[[ "$(json_field "$banner" 'v["banner"]')" == *"was restarted; the session resumed"* ]] \
  || fail "the window never said the hub was restarted: $banner; app log: $(grep -i "engine\|restart" "$work/driver.log" | tail -10)"
[[ "$(json_field "$banner" 'v["live"]')" == *live-on* ]] || fail "the console's live link did not come back: $banner"
[[ "$(json_field "$banner" 'v["banner"]')" == *"injected fault: the engine task panics"* ]] \
  || fail "the banner does not give the reason: $banner"
after_restart=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("hub_connection")
    .then((c) => fetch(c.baseUrl + "/health").then((r) => done({ baseUrl: c.baseUrl, status: r.status })))
    .catch((e) => done({ error: String(e) }));')
[ "$(json_field "$after_restart" 'v.get("status")')" = 200 ] || fail "/health after the restart: $after_restart"
[ "$(json_field "$after_restart" 'v["baseUrl"]')" = "$(json_field "$hub" 'v["baseUrl"]')" ] \
  || fail "the restarted hub moved: $after_restart, before $hub"
grep -q "the hub runs again after its engine failed" "$work/driver.log" || fail "the app did not log the restart"
restart_screenshot="${screenshot%.png}-restart.png"
curl -sS -m 90 "$driver/session/$session/screenshot" >"$work/screenshot.json"
python3 -c 'import base64, json, sys; open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["value"]))' \
  "$work/screenshot.json" "$restart_screenshot"
note "engine failure: hub restarted at the same address, banner shown and live link back after $(python3 -c "print(round($(date +%s.%N) - $failing, 2))") s: $(json_field "$banner" 'v["banner"].splitlines()[0]') (screenshot $restart_screenshot)"

# 3. Monitors and the projector.
monitors=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("list_monitors").then(done, (e) => done({ error: String(e) }));')
[ "$(json_field "$monitors" 'len(v)')" -ge 1 ] || fail "list_monitors: $monitors"
[ "$(json_field "$monitors" '(v[0]["index"], v[0]["width"], v[0]["height"])')" = "(0, 1600, 1000)" ] \
  || fail "list_monitors does not describe the Xvfb screen: $monitors"
note "list_monitors: $monitors"
missing=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("open_projector", { monitor: 7 }).then(() => done("opened?"), (e) => done(String(e)));')
[[ "$missing" == *"There is no monitor 7"* ]] || fail "open_projector(7) should explain: $missing"
note "open_projector(7): $missing"
# The capability allows the three commands and core defaults only: closing the window from the
# page, say, is refused.
denied=$(run_async 'const done = arguments[arguments.length - 1];
  window.__TAURI_INTERNALS__.invoke("plugin:window|close", { label: "main" }).then(() => done("allowed"), (e) => done(String(e)));')
[[ "$denied" == *"not allowed"* ]] || fail "a command outside the capability was not refused: $denied"
note "plugin:window|close from the page: $denied"
# The facilitator's way: the console's button for the (only) monitor.
button=$(webdriver POST "/session/$session/element" '{"using": "xpath", "value": "//button[normalize-space()=\"Show the mandala here\"]"}')
button_id=$(json_field "$button" 'list(v.values())[0] if isinstance(v, dict) and len(v) == 1 else ""')
[ -n "$button_id" ] || fail "no \"Show the mandala here\" button: $button"
webdriver POST "/session/$session/element/$button_id/click" '{}' >/dev/null
app_pid=$(cat "$work/app.pid")
projector_pid=""
for _ in $(seq 50); do
  # The app's children are WebKit's processes and the projector; pick the projector.
  for child in $(pgrep -P "$app_pid" || true); do
    [[ "$(readlink "/proc/$child/exe" 2>/dev/null)" == */synchub-projector ]] && projector_pid=$child
  done
  [ -n "$projector_pid" ] && break
  sleep 0.1
done
[ -n "$projector_pid" ] || fail "no projector process under the app ($app_pid)"
# The projector talks to the hub over /ws (the console uses Socket.IO): the hub counts it.
hub_url=$(json_field "$hub" 'v["baseUrl"]')
ws_connections=0
for _ in $(seq 100); do
  ws_connections=$(curl -sS -m 5 "$hub_url/metrics" | awk '$1 == "synchub_ws_connections" { print $2 }')
  [ "${ws_connections:-0}" -ge 1 ] 2>/dev/null && break
  sleep 0.2
done
[ "${ws_connections:-0}" -ge 1 ] 2>/dev/null || fail "the projector never connected to the hub's /ws"
kill -0 "$projector_pid" 2>/dev/null || fail "the projector exited"
note "projector running (pid $projector_pid), connected to the hub's /ws, with: $(tr '\0' ' ' </proc/"$projector_pid"/cmdline)"

# 4. Close the window like the facilitator does (its close button: WM_DELETE_WINDOW); the app
# must stop the projector and the hub. (WebDriver's "close window" does not reach Tauri.)
closing=$(date +%s.%N)
python3 src-tauri/tests/close-window.py "$app_pid" "Sync Hub" || fail "no \"Sync Hub\" window of the app"
for _ in $(seq 300); do [ -f "$work/exit-code" ] && break; sleep 0.1; done
[ -f "$work/exit-code" ] || fail "the app did not exit after its window closed"
note "app exited $(cat "$work/exit-code") in $(python3 -c "print(round($(date +%s.%N) - $closing, 2))") s after the window closed"
webdriver DELETE "/session/$session" >/dev/null 2>&1 || true
[ "$(cat "$work/exit-code")" = 0 ] || fail "exit code $(cat "$work/exit-code"); driver log: $(tail -30 "$work/driver.log")"
if kill -0 "$projector_pid" 2>/dev/null; then fail "the projector outlived the app"; fi
grep -q "stopped; everything is stored" "$work/driver.log" || fail "the hub did not log a clean stop: $(tail -30 "$work/driver.log")"
[ -s "$work/data/synchub.sqlite3" ] || fail "no SQLite store in the data folder: $(ls -la "$work/data")"
note "hub stopped cleanly; store $(stat -c %s "$work/data/synchub.sqlite3") bytes"
# 5. SIGTERM (logout, shutdown, `kill`) stops the app as cleanly as its close button.
: >"$work/signal.log"
SYNCHUB_DATA_DIR="$work/data-signal" "$app" 2>"$work/signal.log" &
signal_pid=$!
pids+=("$signal_pid")
for _ in $(seq 150); do grep -q "hub running in the desktop app" "$work/signal.log" && break; sleep 0.1; done
grep -q "hub running in the desktop app" "$work/signal.log" || fail "the app did not start: $(tail -20 "$work/signal.log")"
sleep 1 # the window is up
kill -TERM "$signal_pid"
signal_status=0
wait "$signal_pid" || signal_status=$?
[ "$signal_status" = 0 ] || fail "exit code $signal_status after SIGTERM: $(tail -20 "$work/signal.log")"
grep -q "stopped; everything is stored" "$work/signal.log" || fail "no clean stop after SIGTERM: $(tail -20 "$work/signal.log")"
[ -s "$work/data-signal/synchub.sqlite3" ] || fail "no SQLite store after SIGTERM"
note "SIGTERM: the app stopped the hub cleanly and exited 0"

echo "desktop: 2 passed, 0 failed"
