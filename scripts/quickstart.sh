#!/usr/bin/env bash
# Fresh machine -> installed dependencies, a build, and the quickstart pipeline:
# type checked and lowered to its graph (the engine issue turns this into a run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== pipette check examples/quickstart.pipe"
./build/cli/pipette check examples/quickstart.pipe
echo "== pipette graph examples/quickstart.pipe --format json (first lines)"
# Written to a file first: `| head` would end pipette with SIGPIPE under pipefail.
./build/cli/pipette graph examples/quickstart.pipe --format json -o build/quickstart.json
head -n 30 build/quickstart.json
./build/cli/pipette graph examples/quickstart.pipe -o build/quickstart.dot
if command -v dot >/dev/null; then
  dot -Tsvg build/quickstart.dot -o build/quickstart.svg
  echo "== graph drawn in build/quickstart.svg"
fi
# The quickstart's training and attribution ops are still signatures only; this
# example runs end to end on Debian's Fashion-MNIST today.
echo "== pipette run examples/fashion_stats.pipe --out runs/fashion_stats"
./build/cli/pipette run examples/fashion_stats.pipe --out runs/fashion_stats
echo "== runs/fashion_stats/report.json"
head -n 30 runs/fashion_stats/report.json
