#!/usr/bin/env bash
# pipette's metrics against Quantus 0.6 (PyPI, scripts/torch2.sh's Python) on
# the same attributions and masks: sparseness, complexity, pointing game,
# relevance mass accuracy, each to 1e-5 relative.
#   quantus_agreement_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python that has Quantus.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import quantus' "Quantus"
mkdir -p q
"$PY" "$here/quantus_metrics.py" q >py.out 2>&1 || { cat py.out; echo "FAIL: Quantus"; exit 1; }
cat >q/m.pipe <<'PIPE'
let a = tensor.load("a.pt")
let masks = tensor.load("masks.pt")
report "sparseness" = metric.sparseness(a)
report "complexity" = metric.complexity(a)
report "pointing_game" = metric.pointing_game(a, masks)
# |a|: Quantus' relevance mass sums signed relevance, pipette's the positive part.
let magnitude = tensor.mul(a, tensor.sub(tensor.mul(tensor.gt(a, 0.0), 2.0), 1.0))
report "relevance_mass" = metric.relevance_mass(magnitude, masks)
PIPE
expect 0 "the metrics run" -- "$PIPETTE" run q/m.pipe --out q/out --no-cache
"$PY" - q <<'PY' && echo "ok: pipette's metrics equal Quantus'" || { echo "FAIL: metrics differ from Quantus"; fail=1; }
import json, sys
d = sys.argv[1]
want = json.load(open(f"{d}/quantus.json"))
got = json.load(open(f"{d}/out/report.json"))["reports"]
for k, v in want.items():
    assert abs(got[k] - v) <= 1e-5 * max(1.0, abs(v)), (k, got[k], v)
    print(f"{k}: pipette {got[k]:.7g}, Quantus {v:.7g}")
PY
exit $fail
