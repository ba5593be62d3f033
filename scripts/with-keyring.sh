#!/usr/bin/env bash
# Runs a command with a real, unlocked Secret Service (GNOME Keyring) on a
# private session bus, as a desktop session would have: the keychain tests
# store and read keys through it. The keyring files live in a temporary
# folder, so nothing touches the user's own keyring.
#   usage: scripts/with-keyring.sh COMMAND [ARGS...]
set -euo pipefail

if [ -z "${EASEL_KEYRING_SESSION:-}" ]; then
  state="$(mktemp -d -t easel-keyring.XXXXXX)"
  trap 'rm -rf "$state"' EXIT
  mkdir -p "$state/data" "$state/runtime"
  chmod 700 "$state/runtime"
  # Exported before the bus starts, so a keyring daemon the bus activates
  # uses the temporary folders too.
  export XDG_DATA_HOME="$state/data" XDG_RUNTIME_DIR="$state/runtime"
  export EASEL_KEYRING_SESSION=1
  status=0
  dbus-run-session -- bash "${BASH_SOURCE[0]}" "$@" || status=$?
  exit "$status"
fi

# Inside the private bus: start the keyring unlocked (it creates the login
# collection with this throwaway password), then wait for it to own its name.
printf 'easel-test-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
for _ in $(seq 1 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
      grep -q 'boolean true'; then
    exec "$@"
  fi
  sleep 0.1
done
echo "with-keyring: the Secret Service did not start" >&2
exit 1
