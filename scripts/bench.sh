#!/usr/bin/env bash
# Every benchmark, one table: figure | Easel | baseline | ratio | target | pass.
# Rust benches run under criterion (each prints its own detail first); the
# gallery figures come from headless Chromium (ui/bench/gallery.mjs), the
# app's from the real app under Xvfb (tests/desktop/bench.mjs).
# Benchmarks print; they never fail a build. Run after scripts/setup-debian.sh
# (or `bash scripts/test-all.sh`, which installs what this needs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

echo "==> cargo bench (engine: create_job, lifecycle)"
cargo bench -p easel-engine --bench engine 2>&1 | tee -a "$out"
echo "==> cargo bench (thumbnail)"
cargo bench -p easel-engine --bench thumbnail 2>&1 | tee -a "$out"
echo "==> cargo bench (save throughput)"
cargo bench -p easel-engine --bench save 2>&1 | tee -a "$out"
echo "==> cargo bench (recovery of 20,000 jobs)"
cargo bench -p easel-engine --bench recovery 2>&1 | tee -a "$out"
echo "==> cargo bench (gallery queries at 1,000,000 jobs)"
cargo bench -p easel-engine --bench queries 2>&1 | tee -a "$out"
echo "==> gallery in headless Chromium"
(cd ui && { [ -d node_modules ] || npm ci; } && npm run --silent build:e2e >/dev/null && node bench/gallery.mjs) 2>&1 | tee -a "$out"
echo "==> the real app: start, memory and the gallery in WebKitGTK under Xvfb"
# The release build, as users run it.
(cd ui && npm run --silent build >/dev/null) && EASEL_DESKTOP_PROFILE=release EASEL_DESKTOP_BENCH=1 bash tests/desktop/run.sh 2>&1 | tee -a "$out"

python3 - "$out" <<'PY'
import sys
rows = [l.rstrip("\n").split("|")[1:] for l in open(sys.argv[1], encoding="utf-8") if l.startswith("BENCH|")]
head = ["figure", "Easel", "baseline", "ratio", "target", "pass"]
rows = [r[:5] + [{"true": "yes", "-": "-"}.get(r[5], "NO")] for r in rows if len(r) >= 6]
width = [max(len(x) for x in col) for col in zip(head, *rows)]
line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, width)) + " |"
print()
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in width) + "|")
for r in rows:
    print(line(r))
PY
