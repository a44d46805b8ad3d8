#!/usr/bin/env bash
# train.classifier(params=) and train.finetune: only the parameters matching the patterns train;
# every other parameter, and the batch-norm statistics of modules with none
# trained, stay bitwise as they were; `trained` lists what trained; a pattern
# matching nothing is an error naming the model's parameters.
#   train_params_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python with torch.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch' "torch"
mkdir -p m
"$PY" - m <<'PY'
import sys, torch
torch.manual_seed(0)
net = torch.nn.Sequential()
net.add_module("features", torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                                               torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2)))
net.add_module("head", torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 10)))
torch.jit.script(net.eval()).save(f"{sys.argv[1]}/net.pt")
PY
cat >m/run.pipe <<'PIPE'
let examples = data.fashion_mnist(split="test", limit=512)
let base = model.load("net.pt")
let tuned = train.classifier(model=base, data=examples, params=["head.*"], epochs=1, seed=1)
report "trained" = tuned.trained
tuned.model |> save("tuned.pt")
# train.finetune is train.classifier(model=): the same seed, the same model.
let ft = train.finetune(base, examples, params=["head.*"], epochs=1, seed=1)
report "ft_trained" = ft.trained
ft.model |> save("finetuned.pt")
let conv = train.finetune(base, examples, params=["features.0.*"], epochs=1, seed=2)
report "conv_trained" = conv.trained
conv.model |> save("conv.pt")
PIPE
expect 0 "fine-tuning only head.*" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - m <<'PY' || { echo "FAIL: params= trained the wrong parameters"; fail=1; }
import json, sys, torch
d = sys.argv[1]
base = torch.jit.load(f"{d}/net.pt").state_dict()
tuned = torch.jit.load(f"{d}/out/tuned.pt").state_dict()
r = json.load(open(f"{d}/out/report.json"))["reports"]
assert r["trained"] == ["head.1.weight", "head.1.bias"], r["trained"]
for k, v in base.items():
    if k.startswith("head."):
        assert not torch.equal(v, tuned[k]), f"{k} did not train"
    else:
        assert torch.equal(v, tuned[k]), f"{k} changed, though params= left it out"
ft = torch.jit.load(f"{d}/out/finetuned.pt").state_dict()
assert r["ft_trained"] == r["trained"], r["ft_trained"]
for k in base:
    assert torch.equal(ft[k], tuned[k]), f"train.finetune and train.classifier(model=) differ at {k}"
conv = torch.jit.load(f"{d}/out/conv.pt").state_dict()
assert r["conv_trained"] == ["features.0.weight", "features.0.bias"], r["conv_trained"]
for k, v in base.items():
    if k.startswith("features.0."):
        assert not torch.equal(v, conv[k]), f"{k} did not train"
    else:
        # features.1 (batch norm) has no trained parameter: eval mode, its running statistics kept.
        assert torch.equal(v, conv[k]), f"{k} changed, though params= left it out"
print("ok: head trained; every other parameter and the batch-norm statistics bitwise as they were; "
      "train.finetune equals train.classifier(model=) and trains features.0 alone")
PY
printf 'let examples = data.fashion_mnist(split="test", limit=64)\nreport "t" = train.classifier(model=model.load("net.pt"), data=examples, params=["heads.*"]).trained\n' >m/bad.pipe
expect_error "a pattern that matches no parameter" \
  "params: the pattern 'heads.*' matches no parameter of the model (its parameters: features.0.weight, features.0.bias" -- \
  "$PIPETTE" run m/bad.pipe --out m/bad --no-cache
grep -qF "m/bad.pipe:2:" "$tmp/err" || { echo "FAIL: no script line"; cat "$tmp/err"; fail=1; }
exit $fail
