#!/usr/bin/env bash
# The one command that sets up and runs every check and test:
# system setup, UI type check / lint / build, Rust format / lint / tests, and
# the real desktop app's tests. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

START=$(date +%s)
section() {
  printf '\n==> %s  (%s, %d min in)\n' "$*" "$(date +%T)" $(( ($(date +%s) - START) / 60 ))
}

# A clean checkout gains nothing from incremental compilation, and its caches
# are gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

trap 'status=$?; [ "$status" -eq 0 ] || printf "\n==> FAILED (exit %s)\n" "$status" >&2' EXIT

section "setup: system packages"
EASEL_SETUP_SKIP_NPM=1 bash scripts/setup-debian.sh

section "ui: npm ci"
(cd ui && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.easel-lock-stamp)

section "ui: svelte-check"
(cd ui && npm run check)

section "ui: eslint"
(cd ui && npm run lint)

section "ui: unit tests (vitest)"
(cd ui && npm test)

section "ui: build"
(cd ui && npm run build)

section "ui: end-to-end tests (Playwright + Chromium, mocked shell)"
(cd ui && npm run test:e2e)

section "rust: cargo fmt --check"
cargo fmt --all --check

# Clippy lints the workspace's crates while they compile for the tests:
# clippy-driver stands in for rustc on workspace members (what `cargo clippy`
# itself does, there in check mode), with -D warnings. One build of the
# dependencies instead of a check of all of them and then a build: that
# check alone took 13 minutes of a clean run. Exported, so the desktop
# tests' build below reuses these units instead of recompiling.
if CLIPPY_DRIVER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"; then
  export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  section "rust: build every target with clippy's lints (-D warnings)"
  cargo test --workspace --all-targets --no-run
else
  section "rust: cargo clippy"
  cargo clippy --workspace --all-targets -- -D warnings
fi

section "rust: cargo test (with a real Secret Service for the keychain tests)"
bash scripts/with-keyring.sh cargo test --workspace

section "types: generated TypeScript bindings are committed and current"
# `cargo test` regenerates ui/src/lib/bindings from the Rust types (ts-rs).
if [ -n "$(git status --porcelain -- ui/src/lib/bindings)" ]; then
  git status --short -- ui/src/lib/bindings
  echo "ui/src/lib/bindings is out of date: run cargo test and commit the result" >&2
  exit 1
fi

section "app: the real desktop app under Xvfb (tauri-driver + WebKitWebDriver)"
bash tests/desktop/run.sh

section "all checks passed"
