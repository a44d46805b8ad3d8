#!/usr/bin/env bash
# Hook points by path in models pipette never saw (make_hook_cases.py, with the
# Python of scripts/torch2.sh): model.activations equals Python forward hooks
# and nnsight at the same paths, model.patch equals a forward hook doing the
# same change, the layer methods equal Captum's on the same module, scripted,
# traced and exported (torch.export, .pt2) alike; bad paths, values and sites are errors with the script line.
#   hook_points_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) when PYTHON lacks Captum or nnsight.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch, captum, nnsight' "torch, captum and nnsight"
mkdir -p m
"$PY" "$here/make_hook_cases.py" m >py.out 2>&1 || { cat py.out; echo "FAIL: making the cases"; exit 1; }

for how in scripted traced exported; do
  file=net_$how.pt
  [[ $how == exported ]] && file=net_exported.pt2
  cat >m/$how.pipe <<PIPE
let net = model.load("$file")
let x = tensor.load("x.pt")
let t = tensor.load("targets.pt")
let v = tensor.load("value.pt")
report "hooks" = model.hooks(net, x)
report "acts" = model.activations(net, x, at=["features.2.conv2", "features.3:input", "head.1", "head.2:input"], batch=4)
report "zero_f1" = model.patch(net, x, at="features.1", mode="zero")
report "replace_f2" = model.patch(net, x, at="features.2", value=v)
report "add_conv1" = model.patch(net, x, at="features.2.conv1", mode="add", value=v)
report "scale_head0" = model.patch(net, x, at="head.0", mode="scale", factor=0.5)
report "mean_f0" = model.patch(net, x, at="features.0", mode="mean", batch=4)
report "zero_channels_f0" = model.patch(net, x, at="features.0", mode="zero", dim=1, index=[1, 3])
report "patch_f3" = model.patch(net, x, at="features.3", source=tensor.load("source.pt"), batch=4)
report "gradcam_f3" = attr.grad_cam(net, x, target=t, layer="features.3", relu=false, interpolate="none")
report "lig_conv2" = attr.layer_integrated_gradients(net, x, target=t, layer="features.2.conv2", baselines=0.0, steps=32, method="gausslegendre")
report "layer_act_f2" = attr.layer_activation(net, x, layer="features.2")
report "gxa_conv1" = attr.layer_gradient_x_activation(net, x, target=t, layer="features.2.conv1")
report "cond_f2" = attr.layer_conductance(net, x, target=t, layer="features.2", baselines=0.0, steps=32, method="gausslegendre")
report "cond_conv1_left" = attr.layer_conductance(net, x, target=t, layer="features.2.conv1", steps=16, method="riemann_left")
report "guided" = attr.guided_backprop(net, x, target=t)
report "deconv" = attr.deconvolution(net, x, target=t)
report "gradient" = attr.saliency(net, x, target=t, abs=false)
report "deep_lift" = attr.deep_lift(net, x, target=t)
report "lrp_epsilon" = attr.lrp(net, x, target=t, composite="epsilon")
PIPE
  expect 0 "hook points in a $how model" -- "$PIPETTE" run m/$how.pipe --out m/$how --no-cache
done
# Conductance chunked along the path (a budget too small for one example's
# 33 points at once) equals it in one piece.
expect 0 "conductance in chunks of points" -- "$PIPETTE" run m/scripted.pipe --out m/chunked --no-cache --memory-budget 64K
# A model as users write them: forward(x, mask, scale) -> dict, bound by
# model.load's args= (by position or by name) and output=.
cat >m/two.pipe <<'PIPE'
let x = tensor.load("two_x.pt")
let mask = tensor.load("mask.pt")
let two = model.load("two_inputs.pt", args=[mask, 0.5], output="logits")
let bound = model.load("two_inputs.pt", args={mask: mask, scale: 0.5}, output="logits")
report "outputs" = model.predict(two, x)
report "bound_outputs" = model.predict(bound, x)
report "ig" = attr.integrated_gradients(two, x, target=1, steps=32, method="gausslegendre")
report "lig_body1" = attr.layer_integrated_gradients(two, x, target=1, layer="body.1", steps=32)
report "zero_body1" = model.patch(bound, x, at="body.1", mode="zero")
report "hooks" = model.hooks(two, x)
PIPE
expect 0 "a model with two inputs and a dict output" -- "$PIPETTE" run m/two.pipe --out m/two --no-cache
[[ $fail -eq 0 ]] || exit 1
[[ $fail -eq 0 ]] || exit 1
"$PY" - m <<'PY' || { echo "FAIL: values differ"; fail=1; }
import json, sys, torch
d = sys.argv[1]
e = torch.load(f"{d}/expected.pt")
def close(got, want, what, tol=1e-5):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()
    assert err < tol, f"{what}: {err:.2e} of the largest value"
    return err
worst = 0.0
hooks = {}
for how in ("scripted", "traced", "exported"):
    r = json.load(open(f"{d}/{how}/report.json"))["reports"]
    t = lambda v: torch.load(f"{d}/{how}/" + v["file"])
    hooks[how] = r["hooks"]
    a = r["acts"]
    for name, want in (("features.2.conv2", e["act_conv2"]), ("features.3:input", e["act_f3_input"]),
                       ("head.1", e["act_head1"]), ("features.2.conv2", e["nnsight_conv2"]),
                       ("head.2:input", e["nnsight_head2_input"])):
        worst = max(worst, close(t(a[name]), want, f"{how} activation at {name}"))
    for name in ("zero_f1", "replace_f2", "add_conv1", "scale_head0", "mean_f0", "zero_channels_f0", "patch_f3"):
        worst = max(worst, close(t(r[name]), e[name], f"{how} {name}"))
        assert not torch.allclose(e[name], e["outputs"]), f"{name} changes nothing: the case cannot fail"
    for name, captum in (("gradcam_f3", "captum_gradcam_f3"), ("lig_conv2", "captum_lig_conv2"),
                         ("layer_act_f2", "captum_layer_act_f2"), ("gxa_conv1", "captum_gxa_conv1"),
                         ("guided", "captum_guided"), ("deconv", "captum_deconv")):
        worst = max(worst, close(t(r[name]), e[captum], f"{how} {name} vs Captum"))
    for name, captum in (("cond_f2", "captum_cond_f2"), ("cond_conv1_left", "captum_cond_conv1_left")):
        worst = max(worst, close(t(r[name]), e[captum], f"{how} {name} vs Captum"))
    # DeepLift sums to F(x) - F(0) here, though the blocks apply one ReLU
    # module twice (its rule is taken per call); LRP-epsilon is the same
    # whatever the model's form.
    delta = (e["outputs"] - e["outputs_zero"]).gather(1, torch.load(f"{d}/targets.pt").view(-1, 1)).view(-1)
    worst = max(worst, close(t(r["deep_lift"]).sum((1, 2, 3)), delta, f"{how} DeepLift's sum vs F(x) - F(0)", 1e-4))
    lrp = json.load(open(f"{d}/scripted/report.json"))["reports"]["lrp_epsilon"]
    worst = max(worst, close(t(r["lrp_epsilon"]), torch.load(f"{d}/scripted/" + lrp["file"]), f"{how} LRP-epsilon"))
    assert not torch.allclose(t(r["lrp_epsilon"]), t(r["gradient"]), atol=1e-6), "LRP equals the plain gradient"
    # The rules change the answer: neither equals the plain gradient.
    for name in ("guided", "deconv"):
        assert not torch.allclose(t(r[name]), t(r["gradient"]), atol=1e-6), f"{name} equals the plain gradient"
# Chunked along the path, the same sums in another order.
rc = json.load(open(f"{d}/chunked/report.json"))["reports"]
for name in ("cond_f2", "cond_conv1_left"):
    worst = max(worst, close(torch.load(f"{d}/chunked/" + rc[name]["file"]), e["captum_" + name], f"chunked {name}"))
# Conductance is not the layer's activation or its IG: the cases can fail.
assert not torch.allclose(e["captum_cond_f2"], e["captum_layer_act_f2"], atol=1e-3)
r2 = json.load(open(f"{d}/two/report.json"))["reports"]
t2 = lambda v: torch.load(f"{d}/two/" + v["file"])
for name, want in (("outputs", "two_outputs"), ("bound_outputs", "two_outputs"), ("ig", "two_ig"),
                   ("lig_body1", "two_lig_body1"), ("zero_body1", "two_zero_body1")):
    worst = max(worst, close(t2(r2[name]), e[want], f"two-input model: {name}"))
assert "body.1" in r2["hooks"]["hook"] and not any(h.startswith("model.") for h in r2["hooks"]["hook"]), r2["hooks"]["hook"]
s, tr, ex = hooks["scripted"], hooks["traced"], hooks["exported"]
assert s["hook"] == tr["hook"], ("scripted and traced list different hook points", s["hook"], tr["hook"])
assert s["hook"] == ex["hook"] and s["calls"] == ex["calls"], ("scripted and exported list different hook points", s["hook"], ex["hook"])
calls = dict(zip(s["hook"], s["calls"]))
kinds = dict(zip(s["hook"], s["kind"]))
assert kinds["features.2.conv2"] == "output" and kinds["features.3:input"] == "input", kinds
assert calls["features.2.relu"] == 2 and calls["features.2.conv1"] == 1, calls
shapes = dict(zip(s["hook"], s["shape"]))
assert shapes["features.2.conv2"] == "[*, 4, 8, 8]" and shapes["head.1"] == "[*, 16]", shapes
print(f"ok: activations equal forward hooks and nnsight, patches equal forward hooks, layer methods, guided backprop and deconvolution equal Captum "
      f"(largest difference {worst:.1e}); {len(s['hook'])} hook points, the same scripted, traced and exported")
PY
# pipette hooks: the same table for a model file, without a script.
expect 0 "pipette hooks on a model file" -- "$PIPETTE" hooks m/net_scripted.pt --inputs m/x.pt
grep -qE '^features\.2\.conv2 +output +Conv2d +Tensor +1  \[\*, 4, 8, 8\]$' "$tmp/out" ||
  { echo "FAIL: pipette hooks: no row for features.2.conv2 with its shape"; cat "$tmp/out"; fail=1; }
expect 0 "pipette hooks --json" -- "$PIPETTE" hooks m/two_inputs.pt --json
grep -q '"hook": "body.1"' "$tmp/out" || { echo "FAIL: pipette hooks --json lists no body.1"; cat "$tmp/out"; fail=1; }
expect_error "pipette hooks on a file that is no model" "cannot load TorchScript model" -- "$PIPETTE" hooks m/x.pt
# Bad input: each an error naming the script line and what is wrong.
bad() { printf 'let net = model.load("net_scripted.pt")\nlet x = tensor.load("x.pt")\n%s\n' "$2" >m/bad.pipe
        expect_error "$1" "$3" -- "$PIPETTE" run m/bad.pipe --out m/bad --no-cache
        grep -qF "m/bad.pipe:3:" "$tmp/err" || { echo "FAIL: $1: no script line"; cat "$tmp/err"; fail=1; }; }
bad "an unknown path" 'report "a" = model.activations(net, x, at="features.2.conv_2")' \
  "the model has no hook point 'features.2.conv_2'; did you mean 'features.2.conv2'?"
bad "a replacement of the wrong shape" 'report "a" = model.patch(net, x, at="features.2", value=tensor.load("bad_value.pt"))' \
  "the value for hook point 'features.2' is [3, 3], but the site holds [6, 4, 8, 8] on this batch: give one example's [4, 8, 8]"
bad "an index past the channels" 'report "a" = model.patch(net, x, at="features.0", mode="zero", index=[7])' \
  "index 7 at hook point 'features.0': dimension 1 has 4 entries"
bad "replace without a value" 'report "a" = model.patch(net, x, at="features.0")' \
  'mode="replace" takes value= (a tensor) or source= (inputs to patch from), one of them'
printf 'report "a" = model.predict(model.load("two_inputs.pt", output="logits"), tensor.load("two_x.pt"))\n' >m/noargs.pipe
expect_error "a two-input model without args=" \
  "has forward(x: Tensor, mask: Tensor, scale: float) -> Dict[str, Tensor]; it takes more than the input: args= gives the rest" -- \
  "$PIPETTE" run m/noargs.pipe --out m/noargs --no-cache
printf 'report "a" = model.bind(model.load("two_inputs.pt", args=[tensor.load("mask.pt"), 0.5], output="logits"), args=[1])\n' >m/twice.pipe
expect_error "binding a bound model again" "the model already has its arguments and output bound" -- \
  "$PIPETTE" run m/twice.pipe --out m/twice --no-cache
printf 'report "a" = model.activations(model.load("pairnet.pt"), tensor.load("x.pt"), at="pair")\n' >m/pair.pipe
expect_error "a site whose value is not a tensor" \
  "the hook point 'pair' (Pair) holds Tuple[Tensor, Tensor], not a tensor" -- "$PIPETTE" run m/pair.pipe --out m/pair --no-cache
printf 'report "g" = attr.guided_backprop(model.load("pairnet.pt"), tensor.load("pair_x.pt"), target=0)\n' >m/norelu.pipe
expect_error "guided backprop on a model without ReLU modules" \
  "attr.guided_backprop overrides the backward pass of ReLU modules (torch.nn.ReLU), and the model has none" -- \
  "$PIPETTE" run m/norelu.pipe --out m/norelu --no-cache
exit $fail
