#!/usr/bin/env bash
# Programs from torch.export (.pt2) in pipette, against eager PyTorch and
# Captum on the same modules (make_exported_models.py, with the Python of
# scripts/torch2.sh):
# - pt2_gradient_check: forward outputs, input and parameter gradients equal
#   eager PyTorch's for an MLP, a CNN with batch norm and dropout, a residual
#   net, a GPT-style transformer (attention written out, and with
#   scaled_dot_product_attention), two inputs with a dict output, torch.cond
#   both ways, and while_loop + no_grad + autocast; clones, the run cache's
#   round trip and a written .pt2 compute the same.
# - scripts: integrated gradients and layer integrated gradients at a module
#   path equal Captum's, model.patch equals a forward hook, model.activations
#   equals forward hooks, fine-tuning with params= changes only those
#   parameters and saves a .pt2 that torch.export.load opens;
# - every construct pipette cannot run is an error naming it.
#   exported_programs_test.sh PIPETTE_BINARY PYTHON CHECK_BINARY
# Exit 77 (ctest: skipped) when PYTHON lacks torch.export or Captum.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
CHECK=${3:-}
need_python "$PY" 'import torch, captum; torch.export.save' "torch 2.x with torch.export, and captum"
mkdir -p m
"$PY" "$here/make_exported_models.py" m >py.out 2>&1 || { cat py.out; echo "FAIL: making the cases"; exit 1; }

cases=$("$PY" -c 'import json, sys; print(" ".join(c for c in json.load(open(sys.argv[1])) if c != "gpt_sdpa"))' m/cases.json)
# shellcheck disable=SC2086
if "$CHECK" m $cases; then echo "ok: outputs and gradients equal eager PyTorch's"; else echo "FAIL: pt2_gradient_check"; fail=1; fi
# scaled_dot_product_attention came with PyTorch 2.0: LibTorch 1.13 names it as missing.
if "$CHECK" m gpt_sdpa >sdpa.out 2>&1; then
  cat sdpa.out
elif grep -qF "the operator aten::scaled_dot_product_attention is not in this LibTorch (1." sdpa.out; then
  echo "ok: LibTorch 1.x names scaled_dot_product_attention, the line that calls it, and how to get a current LibTorch"
  grep -qF 'make_exported_models.py", line' sdpa.out || { echo "FAIL: no Python line"; cat sdpa.out; fail=1; }
else
  cat sdpa.out; echo "FAIL: gpt_sdpa"; fail=1
fi

cat >m/methods.pipe <<'PIPE'
let cnn = model.load("cnn.pt2")
let resnet = model.load("resnet.pt2")
let gpt = model.load("gpt.pt2")
let two = model.load("two.pt2", args=[tensor.load("two/in1.pt")], output="logits")
let x = tensor.load("cnn/in0.pt")
let t = tensor.load("targets.pt")
report "ig_cnn" = attr.integrated_gradients(cnn, x, target=t, steps=32, method="gausslegendre")
report "lig_resnet" = attr.layer_integrated_gradients(resnet, x, target=t, layer="blocks.1.conv2", baselines=0.0, steps=32, method="gausslegendre")
report "zero_block0" = model.patch(resnet, x, at="blocks.0", mode="zero")
report "acts" = model.activations(gpt, tensor.load("gpt/in0.pt"), at=["blocks.1.attn", "blocks.0.mlp.1:input"])
report "two_logits" = model.predict(two, tensor.load("two/in0.pt"))
report "two_zero_body1" = model.patch(two, tensor.load("two/in0.pt"), at="body.1", mode="zero")
report "hooks" = model.hooks(resnet, x)
let ft_data = data.from_tensors({images: tensor.load("ft_images.pt"), labels: tensor.load("ft_labels.pt")})
let ft = train.finetune(cnn, ft_data, params=["fc.*"], epochs=2, lr=0.01, seed=1)
save(ft.model, "finetuned.pt2")
report "ft_pred" = model.predict(ft.model, x)
report "trained" = ft.trained
PIPE
expect 0 "attribution, patching, activations and fine-tuning on .pt2 models" -- "$PIPETTE" run m/methods.pipe --out m/methods --no-cache
"$PY" - m <<'PY' || { echo "FAIL: values differ"; fail=1; }
import json, sys, torch
d = sys.argv[1]
e = lambda k: torch.load(f"{d}/expected/{k}.pt")
r = json.load(open(f"{d}/methods/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/methods/" + v["file"])
def close(got, want, what, tol=1e-5):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()
    assert err < tol, f"{what}: {err:.2e} of the largest value"
    return err
worst = max(close(t(r["ig_cnn"]), e("ig_cnn"), "integrated gradients vs Captum"),
            close(t(r["lig_resnet"]), e("lig_resnet"), "layer integrated gradients at blocks.1.conv2 vs Captum"),
            close(t(r["zero_block0"]), e("zero_block0"), "zeroing blocks.0 vs a forward hook"),
            close(t(r["acts"]["blocks.1.attn"]), e("act_attn1"), "activation at blocks.1.attn vs a forward hook"),
            close(t(r["acts"]["blocks.0.mlp.1:input"]), e("act_gelu_in"), "input of blocks.0.mlp.1 vs a forward hook"),
            close(t(r["two_logits"]), torch.load(f"{d}/two/out_logits.pt"), "two inputs, dict output"),
            close(t(r["two_zero_body1"]), e("two_zero_body1"), "zeroing body.1 through output= and args="))
assert not torch.allclose(e("two_zero_body1"), torch.load(f"{d}/two/out_logits.pt"))
assert not torch.allclose(e("zero_block0"), torch.load(f"{d}/resnet/out.pt")), "zeroing blocks.0 changes nothing: the case cannot fail"
hooks = r["hooks"]["hook"]
for h in ("blocks.0", "blocks.0.conv1", "blocks.1.relu", "head.2:input"):
    assert h in hooks, (h, hooks)
assert dict(zip(hooks, r["hooks"]["calls"]))["blocks.1.relu"] == 2, r["hooks"]
# Fine-tuned with params=["fc.*"]: fc changed, everything else bitwise as it was;
# the saved .pt2 opens in Python and computes what pipette computed.
before = torch.export.load(f"{d}/cnn.pt2").state_dict
after_ep = torch.export.load(f"{d}/methods/finetuned.pt2")
after = after_ep.state_dict
assert sorted(r["trained"]) == ["fc.bias", "fc.weight"], r["trained"]
for k in before:
    if k.startswith("fc."):
        assert not torch.equal(before[k], after[k]), f"{k} did not train"
    else:
        assert torch.equal(before[k], after[k]), f"{k} changed, though params= named only fc.*"
x = torch.load(f"{d}/cnn/in0.pt")
with torch.no_grad():
    worst = max(worst, close(after_ep.module()(x), t(r["ft_pred"]), "the saved fine-tuned .pt2 in Python"))
print(f"ok: Captum's attributions, forward hooks and fine-tuning agree on .pt2 models (largest difference {worst:.1e})")
PY

# model.load records what it read: the exporting torch and the schema version.
printf 'report "y" = model.predict(model.load("mlp.pt2"), tensor.load("mlp/in0.pt"))\n' >m/log.pipe
expect 0 "model.load of a .pt2, verbose" -- "$PIPETTE" -v run m/log.pipe --out m/log --no-cache
grep -qE "'mlp.pt2': a program exported by torch 2\.[0-9]+.*, export schema 8\.[0-9]+, 5 nodes, 8 hook points" "$tmp/err" ||
  { echo "FAIL: model.load logs no summary of the program"; cat "$tmp/err"; fail=1; }
expect 0 "pipette hooks on a .pt2 file" -- "$PIPETTE" hooks m/resnet.pt2 --inputs m/cnn/in0.pt
grep -qE '^blocks\.1\.conv2 +output +Conv2d +Tensor +1  \[\*, 4, 8, 8\]$' "$tmp/out" ||
  { echo "FAIL: pipette hooks: no row for blocks.1.conv2 with its shape"; cat "$tmp/out"; fail=1; }

# What pipette cannot run: each an error with the script line and what to do.
bad() { printf 'let net = model.load("%s")\nreport "y" = model.predict(net, tensor.load("%s"))\n' "$2" "${4:-mlp/in0.pt}" >m/bad.pipe
        expect_error "$1" "$3" -- "$PIPETTE" run m/bad.pipe --out m/bad --no-cache
        grep -qF "m/bad.pipe:" "$tmp/err" || { echo "FAIL: $1: no script line"; cat "$tmp/err"; fail=1; }; }
bad "a Python custom op" bad_custom_op.pt2 \
  "the custom operator pipette_test::twice is not registered in C++. A Python custom op (torch.library.custom_op) runs only in Python"
bad "a Triton kernel" bad_triton.pt2 "a Triton kernel, which pipette cannot run"
bad "an unknown higher-order op" bad_map.pt2 "the higher-order op 'map_impl' is not one pipette runs"
bad "a pickled tensor subclass" bad_subclass.pt2 "its tensor 'fc1.weight' is a pickled tensor subclass"
bad "a weight larger than its payload" bad_oversized.pt2 "the tensor 'fc1.weight' does not fit its payload weight_0"
bad "a payload cut short" bad_truncated.pt2 "holds 381 bytes, not a whole number of Float elements; the archive is damaged"
bad "a cond without its branch" bad_cond.pt2 "its arguments are not laid out as torch.export writes cond" cond/in0.pt
bad "a signature that miscounts the outputs" bad_outputs.pt2 "the signature lists 3 outputs, the graph 1"
bad "a newer export schema" bad_version.pt2 "in export schema 9.0; pipette reads schema 8.0 to 8.17"
bad "keyword arguments" bad_kwargs.pt2 "the program was exported with keyword arguments"
bad "exported in training mode" bad_training.pt2 \
  "was exported in training mode: its node 'dropout' (aten::dropout) runs with training=True fixed in the program"
bad "a batch size a static export does not take" cnn_static.pt2 \
  "was exported for x of shape [5, 1, 8, 8]; got [64, 1, 8, 8] (pipette runs models on batches of any size: export with dynamic_shapes=" ft_images.pt
bad "an input of the wrong dtype" mlp.pt2 "was exported for x of dtype Float; got Long" gpt/in0.pt
# The Python line of the node that failed at run time.
printf 'report "y" = model.predict(model.load("mlp.pt2"), tensor.random([4, 5]))\n' >m/shape.pipe
expect_error "a run-time failure" "was exported for x of shape [s" -- "$PIPETTE" run m/shape.pipe --out m/shape --no-cache
printf 'save(model.load("mlp.pt2"), "m.pt")\n' >m/save_pt.pipe
expect_error "saving a .pt2 model as TorchScript" "a model from torch.export saves as .pt2" -- \
  "$PIPETTE" run m/save_pt.pipe --out m/save_pt --no-cache
exit $fail
