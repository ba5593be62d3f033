#!/usr/bin/env bash
# Tests of the real desktop app (tests/desktop/app.test.mjs): builds the app
# and the CLI, starts a private X server (Xvfb), a private session bus and
# tauri-driver (which drives the app's WebKitGTK view through WebKitWebDriver),
# with fresh data and library folders, and runs the test file. Screenshots go
# to target/screenshots/desktop.
#
# Needs: Xvfb, dbus-daemon, dbus-monitor, xdotool, python3-xlib, WebKitWebDriver (scripts/setup-debian.sh installs
# them); tauri-driver is built into target/tools on first use.
# Tunables: EASEL_DESKTOP_SKIP_BUILD=1 reuses the existing debug binaries;
# EASEL_DESKTOP_ONLY=PATTERN runs only the tests whose names match;
# EASEL_DESKTOP_BENCH=1 runs the app benchmark (bench.mjs) instead of the tests;
# EASEL_DESKTOP_PROFILE=release uses release binaries.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/desktop"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
TOOLS="$TARGET_DIR/tools"
TAURI_DRIVER_VERSION=2.1.0

log() { echo "desktop: $*"; }

for tool in Xvfb dbus-daemon dbus-monitor xdotool WebKitWebDriver node npm python3; do
  command -v "$tool" >/dev/null 2>&1 || { log "missing tool '$tool' (run scripts/setup-debian.sh)"; exit 1; }
done
[ -f ui/dist/index.html ] || { log "ui/dist is missing: build the UI first (cd ui && npm run build)"; exit 1; }

if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
  log "building tauri-driver $TAURI_DRIVER_VERSION into $TOOLS"
  # Not through test-all.sh's clippy wrapper: this is not our code.
  env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
    cargo install --quiet --locked --version "$TAURI_DRIVER_VERSION" --root "$TOOLS" tauri-driver
fi

# EASEL_DESKTOP_PROFILE=release runs (and builds) the release binaries
# instead, for the app benchmark's figures as users get them.
PROFILE="${EASEL_DESKTOP_PROFILE:-debug}"
if [ "$PROFILE" = release ] && [ "${EASEL_DESKTOP_SKIP_BUILD:-0}" != 1 ]; then
  log "building the app and the CLI (release)"
  cargo build --release -p easel -p easel-cli
elif [ "${EASEL_DESKTOP_SKIP_BUILD:-0}" != 1 ]; then
  log "building the app and the CLI"
  # The same units and features as `cargo test --workspace` (tests selected,
  # so dev-dependency features are unified the same way): after the test run
  # this reuses its build instead of compiling the engine and the Tauri
  # crates a second time with other features.
  cargo build --workspace --lib --bins --tests
fi
if [ "${EASEL_DESKTOP_BENCH:-0}" = 1 ]; then
  # The benchmark's library is written by an engine example.
  cargo build -p easel-engine --example fill_library
fi
APP="$TARGET_DIR/$PROFILE/easel"
CLI="$TARGET_DIR/$PROFILE/easel-cli"
[ -x "$APP" ] && [ -x "$CLI" ] || { log "no binaries in $TARGET_DIR/$PROFILE"; exit 1; }

if ! cmp -s "$HERE/package-lock.json" "$HERE/node_modules/.easel-lock-stamp" 2>/dev/null; then
  (cd "$HERE" && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.easel-lock-stamp)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/easel-desktop.XXXXXX")"
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for f in driver.log xvfb.log; do
      [ -s "$WORK/$f" ] && { log "$f (last 80 lines):"; tail -n 80 "$WORK/$f" | sed 's/^/  | /'; }
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private X server on a display number Xvfb picks itself.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$WORK/display" 2>"$WORK/xvfb.log" &
PIDS+=($!)
for _ in $(seq 100); do
  [ -s "$WORK/display" ] && break
  sleep 0.1
done
[ -s "$WORK/display" ] || { log "Xvfb did not start"; exit 1; }
export DISPLAY=":$(tr -d '[:space:]' <"$WORK/display")"

# A private session bus: GTK, WebKitGTK and the single-instance check use it.
dbus-daemon --session --fork --nopidfile --print-address=4 --print-pid=5 \
  4>"$WORK/dbus.addr" 5>"$WORK/dbus.pid"
PIDS+=("$(tr -d '[:space:]' <"$WORK/dbus.pid")")
DBUS_SESSION_BUS_ADDRESS="$(head -n1 "$WORK/dbus.addr")"
export DBUS_SESSION_BUS_ADDRESS
# Desktop notifications are D-Bus calls: record them for the test.
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications'" \
  >"$WORK/notify.log" 2>&1 &
PIDS+=($!)

# The app under test: fresh folders, offline provider, one offline job at a
# time (so a queue forms), jobs slow enough to be seen in each state, and a
# short lease so a killed run's job is taken over within seconds.
mkdir -p "$WORK/data" "$WORK/library" "$WORK/home"
printf '[concurrency]\noffline = 1\n' >"$WORK/data/config.toml"
# A developer's own provider keys and endpoints never reach the app under test.
unset OPENAI_API_KEY REPLICATE_API_TOKEN EASEL_OPENAI_BASE_URL EASEL_REPLICATE_BASE_URL
export EASEL_DATA_DIR="$WORK/data"
export EASEL_LIBRARY_DIR="$WORK/library"
export EASEL_OFFLINE_LATENCY_MS=2500
export EASEL_LEASE_MS=3000
export XDG_CACHE_HOME="$WORK/home/cache"
export XDG_CONFIG_HOME="$WORK/home/config"
export XDG_DATA_HOME="$WORK/home/data"
export GDK_BACKEND=x11
export NO_AT_BRIDGE=1
# Software rendering: Xvfb has no GPU.
export LIBGL_ALWAYS_SOFTWARE=1
export WEBKIT_DISABLE_DMABUF_RENDERER=1
export WEBKIT_DISABLE_COMPOSITING_MODE=1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
NATIVE_PORT="$(free_port)"
"$TOOLS/bin/tauri-driver" --port "$PORT" --native-port "$NATIVE_PORT" >"$WORK/driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
  sleep 0.1
done

log "Xvfb on $DISPLAY, tauri-driver on port $PORT"
if [ "${EASEL_DESKTOP_BENCH:-0}" = 1 ]; then
  EASEL_APP_BIN="$APP" EASEL_DRIVER_URL="http://127.0.0.1:$PORT/" \
    EASEL_FILL_BIN="$TARGET_DIR/debug/examples/fill_library" \
    node "$HERE/bench.mjs" || { status=$?; tail -40 "$WORK/driver.log" >&2; exit "$status"; }
  exit 0
fi
EASEL_APP_BIN="$APP" EASEL_CLI_BIN="$CLI" EASEL_DRIVER_URL="http://127.0.0.1:$PORT/" \
  EASEL_SHOTS_DIR="$TARGET_DIR/screenshots/desktop" EASEL_NOTIFY_LOG="$WORK/notify.log" \
  node --test --test-concurrency=1 ${EASEL_DESKTOP_ONLY:+--test-name-pattern="$EASEL_DESKTOP_ONLY"} "$HERE/app.test.mjs" \
  || { status=$?; tail -40 "$WORK/driver.log" >&2; exit "$status"; }
