#!/usr/bin/env bash
# Fresh machine -> installed dependencies, a build, and the quickstart pipeline
# run end to end on Debian's Fashion-MNIST: a CNN trained (about a minute on two
# cores), explained with saliency and integrated gradients, scored with deletion
# AUC, and drawn as heatmaps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== pipette run examples/quickstart.pipe --out runs/quickstart"
./build/cli/pipette run examples/quickstart.pipe --out runs/quickstart
echo "== runs/quickstart/report.json (reports)"
/usr/bin/python3 - <<'PY'
import json
r = json.load(open("runs/quickstart/report.json"))
for k, v in r["reports"].items():
    print(f"  {k:24} {v}")
PY
echo "== pictures: runs/quickstart/ig_heatmap.png, runs/quickstart/saliency_heatmap.png"
echo "== model:    runs/quickstart/model.pt (torch.jit.load)"
