#!/usr/bin/env bash
# GUI smoke test: builds the desktop app, starts it on a private virtual X
# display with fresh data and library folders, waits for the "Easel" window,
# waits until the web UI has painted, saves a screenshot to
# target/screenshots/app.png and checks the app is still running.
#
# Needs: Xvfb, xdotool, ImageMagick (import/identify), dbus-daemon
# (scripts/setup-debian.sh installs them).
# Tunables: EASEL_SMOKE_TIMEOUT (seconds to wait for the window, default 60),
#           EASEL_SMOKE_SKIP_BUILD=1 (reuse the existing debug binary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TIMEOUT="${EASEL_SMOKE_TIMEOUT:-60}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN="$TARGET_DIR/debug/easel"
SHOT_DIR="$TARGET_DIR/screenshots"
SHOT="$SHOT_DIR/app.png"

log() { echo "app-smoke: $*"; }

for tool in Xvfb xdotool import identify dbus-daemon; do
  command -v "$tool" >/dev/null 2>&1 || { log "missing tool '$tool' (run scripts/setup-debian.sh)"; exit 1; }
done

if [ ! -f ui/dist/index.html ]; then
  log "ui/dist is missing: build the UI first (cd ui && npm run build)"
  exit 1
fi

if [ "${EASEL_SMOKE_SKIP_BUILD:-0}" != 1 ]; then
  log "building the app"
  cargo build -p easel
fi
[ -x "$BIN" ] || { log "no binary at $BIN"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/easel-smoke.XXXXXX")"
XVFB_PID=""
DBUS_PID=""
APP_PID=""

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  stop_pid "$APP_PID"
  stop_pid "$DBUS_PID"
  stop_pid "$XVFB_PID"
  if [ "$status" -ne 0 ] && [ -f "$WORK/app.log" ]; then
    log "app log (last 60 lines):"
    tail -n 60 "$WORK/app.log" | sed 's/^/  | /' || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private X server on a free display (Xvfb picks the number itself).
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$WORK/display" 2>"$WORK/xvfb.log" &
XVFB_PID=$!
for _ in $(seq 100); do
  [ -s "$WORK/display" ] && break
  kill -0 "$XVFB_PID" 2>/dev/null || { cat "$WORK/xvfb.log" >&2; log "Xvfb failed to start"; exit 1; }
  sleep 0.1
done
[ -s "$WORK/display" ] || { log "Xvfb did not report a display"; exit 1; }
export DISPLAY=":$(tr -d '[:space:]' <"$WORK/display")"
log "Xvfb on $DISPLAY"

# A private session bus: WebKitGTK and GTK expect one; CI has none.
dbus-daemon --session --fork --nopidfile --print-address=4 --print-pid=5 \
  4>"$WORK/dbus.addr" 5>"$WORK/dbus.pid"
DBUS_PID="$(tr -d '[:space:]' <"$WORK/dbus.pid")"
DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$WORK/dbus.addr")"
export DBUS_SESSION_BUS_ADDRESS

mkdir -p "$WORK/data" "$WORK/library"
export EASEL_DATA_DIR="$WORK/data"
export EASEL_LIBRARY_DIR="$WORK/library"
export GDK_BACKEND=x11
export NO_AT_BRIDGE=1
# Software rendering: Xvfb has no GPU, and WebKit's DMA-BUF renderer and
# compositing mode can leave the page blank there.
export LIBGL_ALWAYS_SOFTWARE=1
export WEBKIT_DISABLE_DMABUF_RENDERER=1
export WEBKIT_DISABLE_COMPOSITING_MODE=1

log "starting $BIN"
"$BIN" >"$WORK/app.log" 2>&1 &
APP_PID=$!
started=$SECONDS

wid=""
deadline=$((SECONDS + TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ! kill -0 "$APP_PID" 2>/dev/null; then
    wait "$APP_PID" && code=0 || code=$?
    APP_PID=""
    log "FAIL: the app exited (status $code) before its window appeared"
    exit 1
  fi
  wid="$(xdotool search --onlyvisible --name '^Easel$' 2>/dev/null | head -n1 || true)"
  [ -n "$wid" ] && break
  sleep 0.5
done
if [ -z "$wid" ]; then
  log "FAIL: no window named 'Easel' within ${TIMEOUT}s"
  exit 1
fi
log "window $wid is up after $((SECONDS - started))s"

# The window can map before the web view paints: wait (bounded) until the
# screenshot shows a real page (text and colours), not a blank surface.
mkdir -p "$SHOT_DIR"
colors=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  sleep 1
  if import -window "$wid" "$WORK/shot.png" 2>/dev/null; then
    colors="$(identify -format '%k' "$WORK/shot.png" 2>/dev/null || echo 0)"
    cp "$WORK/shot.png" "$SHOT"
    [ "$colors" -gt 64 ] && break
  fi
done
log "screenshot $SHOT ($colors colours)"
if [ "$colors" -le 64 ]; then
  log "FAIL: the window stayed blank (only $colors colours)"
  exit 1
fi

if ! kill -0 "$APP_PID" 2>/dev/null; then
  log "FAIL: the app is no longer running"
  exit 1
fi

log "1 passed, 0 failed"
