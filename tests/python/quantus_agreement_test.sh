#!/usr/bin/env bash
# pipette's metrics against Quantus 0.6 (PyPI, scripts/torch2.sh's Python) on
# the same attributions and masks: sparseness, complexity, pointing game,
# relevance mass accuracy, each to 1e-5 relative; then the metrics that call a
# model (faithfulness estimate, monotonicity correlation, selectivity, IROF,
# sufficiency, consistency, continuity, random logit; ROAD's accuracy curve) per input on the same
# CNN, inputs and attributions.
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
# The metrics that call a model, per input (reduce="none"), on Quantus' own
# deterministic settings (quantus_model_metrics.py says which).
"$PY" "$here/quantus_model_metrics.py" q >py2.out 2>&1 || { cat py2.out; echo "FAIL: Quantus (model metrics)"; exit 1; }
cat >q/model.pipe <<'PIPE'
let m = model.load("cnn.pt")
let x = tensor.load("x.pt")
let a = tensor.load("qa.pt")
let y = tensor.load("y.pt")
report "faithfulness_estimate" = metric.faithfulness_estimate(m, x, a, target=y, features_in_step=4, reduce="none")
report "monotonicity_correlation" = metric.monotonicity_correlation(m, x, a, target=y, features_in_step=4, baseline="black", nr_samples=1, reduce="none")
report "selectivity" = metric.selectivity(m, x, a, target=y, patch_size=4, reduce="none")
report "irof" = metric.irof(m, x, a, target=y, reduce="none")
report "sufficiency" = metric.sufficiency(m, x, a, target=y, threshold=0.95, normalise=false, reduce="none")
report "consistency" = metric.consistency(m, x, a, target=y, normalise=false, reduce="none")
report "continuity" = metric.continuity(m, x, target=y, explainer="saliency", abs=true, nr_steps=4, reduce="none")
report "road" = metric.road(m, x, a, target=y, noise=0)
report "random_logit" = metric.random_logit(m, x, a, target=y, explainer="saliency", off_target=tensor.load("off.pt"), reduce="none")
PIPE
expect 0 "the model metrics run" -- "$PIPETTE" run q/model.pipe --out q/model --no-cache
"$PY" - q <<'PY' && echo "ok: pipette's model metrics equal Quantus' per input" || { echo "FAIL: model metrics differ from Quantus"; fail=1; }
import json, sys, torch
d = sys.argv[1]
want = json.load(open(f"{d}/quantus_model.json"))
got = json.load(open(f"{d}/model/report.json"))["reports"]
for k, v in want.items():
    g = torch.load(f"{d}/model/" + got[k]["file"]).double()
    w = torch.tensor(v, dtype=torch.float64)
    err = (g - w).abs().max().item()
    assert err <= 1e-5 * max(1.0, w.abs().max().item()), (k, g.tolist(), v)
    print(f"{k}: largest difference {err:.1e} over {len(v)} values (Quantus {[round(t, 5) for t in v]})")
PY
exit $fail
