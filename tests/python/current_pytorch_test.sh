#!/usr/bin/env bash
# What a PyTorch 2.x user saves, in pipette: scripted and traced CNN and
# residual net, a state_dict, a .safetensors file from the safetensors package,
# and the current Captum's integrated gradients on the CNN, all made by
# make_current_models.py with the Python of scripts/torch2.sh.
#   current_pytorch_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) when PYTHON is missing or lacks torch 2.x, Captum or
# safetensors. A pipette built on LibTorch 1.13 must run them all or refuse
# with an error that names the fix.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch, captum, safetensors; assert int(torch.__version__.split(".")[0]) >= 2' \
  "torch 2.x, captum and safetensors"
mkdir -p m
"$PY" "$here/make_current_models.py" m >py.out 2>&1 || { cat py.out; echo "FAIL: making the models"; exit 1; }
echo "ok: models made by $(tail -1 py.out)"
libtorch=$("$PIPETTE" --version | grep -o 'LibTorch [0-9.]*' | cut -d' ' -f2)

cat >m/run.pipe <<'PIPE'
let x = tensor.load("x.pt")
let t = tensor.load("targets.pt")
let cnn = model.load("cnn_scripted.pt")
report "cnn_scripted" = model.predict(cnn, x)
report "cnn_traced" = model.predict(model.load("cnn_traced.pt"), x)
report "resnet_scripted" = model.predict(model.load("resnet_scripted.pt"), x)
report "resnet_traced" = model.predict(model.load("resnet_traced.pt"), x)
report "cnn_ig" = attr.integrated_gradients(cnn, x, target=t, baselines=0.0, steps=50, method="gausslegendre")
report "conv_weight" = tensor.load("state_dict.pt", key="features.0.weight")
report "conv_weight_st" = tensor.load("weights.safetensors", key="features.0.weight")
report "bn_mean" = load("state_dict.pt")
let dict_model = model.load("dict_scripted.pt", output="logits")
report "dict_scripted" = model.predict(dict_model, x)
report "dict_traced" = model.predict(model.load("dict_traced.pt", output="logits"), x)
report "dict_features" = model.predict(model.load("dict_scripted.pt", output="features"), x)
report "tuple_scripted" = model.predict(model.load("tuple_scripted.pt", output=-1), x)
report "dict_ig" = attr.integrated_gradients(dict_model, x, target=t, baselines=0.0, steps=50, method="gausslegendre")
PIPE
expect 0 "models saved by PyTorch $(tail -1 py.out | cut -d' ' -f2) run in pipette on LibTorch $libtorch" -- \
  "$PIPETTE" run m/run.pipe --out m/out --no-cache
if [[ $fail -ne 0 ]]; then
  exit 1
fi
"$PY" - m <<'PY' && echo "ok: outputs and Captum's integrated gradients agree" || { echo "FAIL: values differ"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/out/report.json"))["reports"]
def tensor(v):
    return torch.load(f"{d}/out/" + v["file"]) if isinstance(v, dict) and "file" in v else torch.tensor(v)
e = torch.load(f"{d}/expected.pt")
for name in ("cnn", "resnet"):
    for how in ("scripted", "traced"):
        got = tensor(r[f"{name}_{how}"])
        assert torch.allclose(got, e[f"{name}_outputs"], rtol=1e-5, atol=1e-5), (name, how, (got - e[f"{name}_outputs"]).abs().max())
ig = tensor(r["cnn_ig"])
err = ((ig - e["cnn_ig"]).abs().max() / e["cnn_ig"].abs().max()).item()
assert err < 1e-4, f"IG differs from Captum's by {err:.2e} of its largest value"
print(f"IG: largest difference {err:.1e} of Captum's largest value")
s = torch.load(f"{d}/state_dict.pt")
assert torch.equal(tensor(r["conv_weight"]), s["features.0.weight"])
assert torch.equal(tensor(r["conv_weight_st"]), s["features.0.weight"])
assert torch.allclose(tensor(r["bn_mean"]["features.1.running_mean"]), s["features.1.running_mean"])
for how in ("scripted", "traced"):
    assert torch.allclose(tensor(r[f"dict_{how}"]), e["dict_outputs"]["logits"], rtol=1e-5, atol=1e-5), how
assert torch.allclose(tensor(r["dict_features"]), e["dict_outputs"]["features"], rtol=1e-5, atol=1e-5)
assert torch.allclose(tensor(r["tuple_scripted"]), e["tuple_outputs"][1], rtol=1e-5, atol=1e-5)
err = ((tensor(r["dict_ig"]) - e["dict_ig"]).abs().max() / e["dict_ig"].abs().max()).item()
assert err < 1e-4, f"IG through output= differs from Captum's by {err:.2e}"
print("dict and tuple outputs, picked by output=, equal Python's; IG through output= equals Captum's")
PY
# Several outputs without output=, a key or position the model lacks: each
# refused with what the model returns and the fix.
refuse() { printf '%s\n' "$2" >m/bad.pipe; expect_error "$1" "$3" -- "$PIPETTE" run m/bad.pipe --out m/bad --no-cache; }
refuse "a dict-output model without output=" 'report "p" = model.predict(model.load("dict_scripted.pt"), tensor.load("x.pt"))' \
  "returns Dict[str, Tensor], not one tensor; say which output pipette reads: model.load(\"dict_scripted.pt\", output=\"logits\""
refuse "a tuple-output model without output=" 'report "p" = model.predict(model.load("tuple_scripted.pt"), tensor.load("x.pt"))' \
  'output=0 (the position of the tensor to use)'
refuse "a key the dict lacks" 'report "p" = model.predict(model.load("dict_traced.pt", output="probs"), tensor.load("x.pt"))' \
  "the model's outputs have no key 'probs'; its keys are "
refuse "a position past the tuple" 'report "p" = model.predict(model.load("tuple_scripted.pt", output=2), tensor.load("x.pt"))' \
  "output=2, but the model 'tuple_scripted.pt' returns 2 outputs"
refuse "output= on a one-tensor model" 'report "p" = model.predict(model.load("cnn_scripted.pt", output=0), tensor.load("x.pt"))' \
  "output= is for models that return a tuple, list or dict of tensors"
# A file from a PyTorch newer than this build's LibTorch: its archive's format
# version past what LibTorch reads. The error names this build's LibTorch and the fix.
"$PY" - m <<'PY'
import sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(f"{d}/cnn_scripted.pt") as src, zipfile.ZipFile(f"{d}/future.pt", "w", zipfile.ZIP_STORED) as dst:
    for info in src.infolist():
        data = src.read(info)
        dst.writestr(info, b"99\n" if info.filename.endswith("/version") else data)
PY
printf 'report "p" = model.predict(model.load("future.pt"), tensor.load("x.pt"))\n' >m/future.pipe
expect 1 "a model from a future PyTorch is refused" -- "$PIPETTE" run m/future.pipe --out m/future --no-cache
grep -qF "this pipette is built on LibTorch $libtorch; the file needs a newer one: bash scripts/torch2.sh" "$tmp/err" \
  && echo "ok: the refusal names this LibTorch and the fix" || { echo "FAIL: future model message"; cat "$tmp/err"; fail=1; }
exit $fail
