#!/usr/bin/env bash
# pipette's gradient attributions equal Zennit's (PyPI, pinned in
# scripts/torch2-requirements.txt) on the same scripted CNN: attr.saliency
# with abs=false is Zennit's Gradient, attr.integrated_gradients with
# method="riemann_right" is Zennit's IntegratedGradients, attr.lrp with each
# composite is Zennit's LRP with that composite (relevance seeded with the
# target's output).
#   zennit_agreement_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) when PYTHON lacks Zennit.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch, zennit' "torch and zennit"
mkdir -p m
"$PY" "$here/make_zennit_cases.py" m >py.out 2>&1 || { cat py.out; echo "FAIL: Zennit's cases"; exit 1; }

cat >m/run.pipe <<'PIPE'
let net = model.load("cnn.pt")
let x = tensor.load("x.pt")
let t = tensor.load("targets.pt")
report "gradient" = attr.saliency(net, x, target=t, abs=false)
report "ig" = attr.integrated_gradients(net, x, target=t, baselines=0.0, steps=20, method="riemann_right")
report "lrp_epsilon_plus_flat" = attr.lrp(net, x, target=t)
report "lrp_epsilon_plus" = attr.lrp(net, x, target=t, composite="epsilon_plus")
report "lrp_epsilon_alpha2_beta1" = attr.lrp(net, x, target=t, composite="epsilon_alpha2_beta1")
report "lrp_epsilon_alpha2_beta1_flat" = attr.lrp(net, x, target=t, composite="epsilon_alpha2_beta1_flat")
report "lrp_epsilon_gamma_box" = attr.lrp(net, x, target=t, composite="epsilon_gamma_box", low=0, high=1)
PIPE
expect 0 "saliency and integrated gradients on Zennit's cases" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - m <<'PY' || { echo "FAIL: values differ from Zennit's"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/out/report.json"))["reports"]
e = torch.load(f"{d}/expected.pt")
for name in ("gradient", "ig", "lrp_epsilon_plus_flat", "lrp_epsilon_plus", "lrp_epsilon_alpha2_beta1",
             "lrp_epsilon_alpha2_beta1_flat", "lrp_epsilon_gamma_box"):
    got = torch.load(f"{d}/out/" + r[name]["file"])
    err = ((got - e[name]).abs().max() / e[name].abs().max()).item()
    assert err < 1e-5, f"{name}: {err:.2e} of Zennit's largest value"
    print(f"ok: {name} equals Zennit's (largest difference {err:.1e} of its largest value)")
PY
exit $fail
