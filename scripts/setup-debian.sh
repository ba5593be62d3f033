#!/usr/bin/env bash
# Installs what Easel needs to build, run and test on Debian 12 (bookworm):
# system libraries for Tauri/WebKitGTK, an X server, WebDriver and tools for
# the desktop tests, and the UI's npm dependencies. Idempotent and quick when all is
# present: apt-get update runs only if a package is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

APT_PACKAGES=(
  # Tauri v2 build and runtime on Linux
  build-essential
  pkg-config
  file
  libwebkit2gtk-4.1-dev
  librsvg2-dev
  libxdo-dev
  # tray icon (loaded at run time by the tray-icon crate)
  libayatana-appindicator3-dev
  # desktop tests: virtual X server, window lookup, session bus (and its monitor)
  xvfb
  xauth
  xdotool
  x11-utils
  # real-app tests: read what "Copy image" put on the clipboard
  xclip
  dbus
  dbus-bin
  fonts-dejavu-core
  # UI end-to-end tests (playwright-core drives this browser)
  chromium
  # real-app tests: WebDriver for the app's WebKitGTK view, and a window
  # manager's close request sent over X (tests/desktop)
  webkit2gtk-driver
  python3-xlib
  # keychain tests: a real Secret Service, and its command-line client
  gnome-keyring
  libsecret-tools
)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-debian: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}"
else
  echo "setup-debian: system packages present"
fi

for tool in node npm cargo; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup-debian: '$tool' is required but not on PATH" >&2
    exit 1
  fi
done

# rustfmt and clippy ship with the toolchain; add them if this one lacks them.
if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
      rustup component add "$component"
    fi
  done
fi

# UI dependencies: `npm ci` only when node_modules does not match the lock file
# (EASEL_SETUP_SKIP_NPM=1 skips this, for callers that run `npm ci` themselves).
if [ "${EASEL_SETUP_SKIP_NPM:-0}" = 1 ]; then
  exit 0
fi
cd "$ROOT/ui"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.easel-lock-stamp; then
  echo "setup-debian: ui/node_modules up to date"
else
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.easel-lock-stamp
fi
