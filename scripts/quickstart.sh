#!/usr/bin/env bash
# Fresh machine -> installed dependencies, a build, and the quickstart pipeline
# (examples/explain_fashion.pipe) run end to end on Debian's Fashion-MNIST: a CNN
# trained (about a minute on two cores), explained with saliency, integrated
# gradients and Grad-CAM, scored with deletion AUC and sensitivity, and drawn.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== pipette run examples/explain_fashion.pipe --out runs/quickstart"
./build/cli/pipette run examples/explain_fashion.pipe --out runs/quickstart
echo "== runs/quickstart/report.json (reports)"
/usr/bin/python3 - <<'PY'
import json
r = json.load(open("runs/quickstart/report.json"))
for k, v in r["reports"].items():
    print(f"  {k:24} {v}")
PY
echo "== pictures: runs/quickstart/heatmaps.png, runs/quickstart/deletion_curves.svg"
echo "== model:    runs/quickstart/model.pt (torch.jit.load)"
