#!/usr/bin/env bash
# Builds the UI and runs the desktop app (debug build: much faster to compile;
# the UI is embedded either way). Works offline with no API keys.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup-debian.sh
(cd ui && npm run build)
exec cargo run -p easel -- "$@"
