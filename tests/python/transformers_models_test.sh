#!/usr/bin/env bash
# Hugging Face transformers' ViT and GPT-2 (small configs, random weights),
# traced to TorchScript by make_transformers_models.py, run in pipette: their
# logits equal eager PyTorch's, and integrated gradients on the ViT equal
# Captum's on the eager model.
#   transformers_models_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) when PYTHON lacks transformers or Captum.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch, captum, transformers' "torch, captum and transformers"
mkdir -p m
"$PY" "$here/make_transformers_models.py" m >py.out 2>&1 || { cat py.out; echo "FAIL: making the models"; exit 1; }
echo "ok: models traced with $(tail -1 py.out)"

cat >m/run.pipe <<'PIPE'
let images = tensor.load("images.pt")
let vit = model.load("vit.pt", output="logits")
report "vit_logits" = model.predict(vit, images)
report "vit_ig" = attr.integrated_gradients(vit, images, target=tensor.load("targets.pt"), baselines=0.0, steps=32, method="gausslegendre")
# Token ids are integers on purpose: passed to the embedding as they are. Two
# per batch: the trace must not have fixed the batch size.
report "gpt2_logits" = model.predict(model.load("gpt2.pt", output="logits"), tensor.load("tokens.pt"), batch=2)
PIPE
expect 0 "a traced ViT and GPT-2 run in pipette" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - m <<'PY' || { echo "FAIL: values differ"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/out/report.json"))["reports"]
e = torch.load(f"{d}/expected.pt")
def tensor(name):
    v = r[name]
    return torch.load(f"{d}/out/" + v["file"]) if isinstance(v, dict) and "file" in v else torch.tensor(v)
for name in ("vit_logits", "gpt2_logits"):
    got = tensor(name)
    assert got.shape == e[name].shape, (name, got.shape, e[name].shape)
    assert torch.allclose(got, e[name], rtol=1e-4, atol=1e-5), (name, (got - e[name]).abs().max())
ig = tensor("vit_ig")
err = ((ig - e["vit_ig"]).abs().max() / e["vit_ig"].abs().max()).item()
assert err < 1e-4, f"ViT IG differs from Captum's by {err:.2e} of its largest value"
print(f"ok: ViT and GPT-2 logits equal eager PyTorch's; ViT IG equals Captum's (largest difference {err:.1e} of its largest value)")
PY
exit $fail
