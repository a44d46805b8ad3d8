#!/usr/bin/env bash
# pipette's own architectures name finer hook points than their paths
# (docs/ops/models.md, "Naming convention"): hook_<layer>_pre/_post around each
# hidden nonlinearity, hook_<block>_resid_post after residual blocks, the UNet's
# hook_temb and each block's hook_mid and hook_resid_post. They are identity
# submodules: values there are the model's own intermediate values (checked
# against what the model computes without them), and a saved model keeps them
# as submodules in Python's torch.jit.load.
#   named_sites_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python with torch.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch' "torch"
mkdir -p m
"$PY" -c 'import sys, torch; torch.save(torch.tensor([7]), sys.argv[1])' m/t.pt
cat >m/run.pipe <<'PIPE'
let examples = data.fashion_mnist(split="test", limit=256)
let x = data.fashion_mnist(split="test", limit=8).images
for arch in ["mlp", "cnn", "resnet"] {
  let net = train.classifier(arch=arch, data=examples, epochs=1, seed=1).model
  report "hooks_{arch}" = model.hooks(net, x)
  report "features_{arch}" = attr.layer_activation(net, x, layer="features")
  net |> save("{arch}.pt")
}
let cnn = train.classifier(arch="cnn", data=examples, epochs=1, seed=1).model
report "cnn_named" = model.activations(cnn, x, at=["hook_conv1_pre", "hook_conv1_post", "hook_conv2_post", "hook_fc1_post"])
report "resnet_block2" = attr.layer_activation(train.classifier(arch="resnet", data=examples, epochs=1, seed=1).model, x, layer="hook_b2_resid_post")
report "mlp_fc2" = attr.layer_activation(train.classifier(arch="mlp", data=examples, epochs=1, seed=1).model, x, layer="hook_fc2_post")
report "outputs_cnn" = model.predict(cnn, x)
report "zero_conv1" = model.patch(cnn, x, at="hook_conv1_post", mode="zero")
x |> save("x.pt")
let dm = diffusion.train(x, size=16, steps=2, width=8, timesteps=10, ema=0.0)
report "hooks_unet" = model.hooks(dm.model)
dm.model |> save("unet.pt")
# The UNet's forward(x, t) at a fixed timestep, as a model of x alone.
let at_t = model.bind(dm.model, args=[tensor.load("t.pt")])
report "unet_hooks_bound" = model.hooks(at_t)
report "eps_at_t" = model.predict(at_t, x)
report "temb_at_t" = model.activations(at_t, x, at="hook_temb")
PIPE
expect 0 "named hook points of pipette's architectures" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - m/out <<'PY' || { echo "FAIL: named hook points"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/" + v["file"])
names = {a: r[f"hooks_{a}"]["hook"] for a in ("mlp", "cnn", "resnet")}
want = {"mlp": ["hook_fc1_pre", "hook_fc1_post", "hook_fc2_pre", "hook_fc2_post"],
        "cnn": ["hook_conv1_pre", "hook_conv1_post", "hook_conv2_pre", "hook_conv2_post", "hook_fc1_pre", "hook_fc1_post"],
        "resnet": ["hook_stem_post", "hook_b1_resid_post", "hook_b2_resid_post"]}
for arch, sites in want.items():
    kinds = dict(zip(names[arch], r[f"hooks_{arch}"]["kind"]))
    for s in sites:
        assert s in names[arch], (arch, s, names[arch])
        assert kinds[s] == "named", (arch, s, kinds[s])
    assert kinds["features"] == "method", kinds
unet = r["hooks_unet"]["hook"]
for s in ("hook_temb", "down1.hook_mid", "down1.hook_resid_post", "mid.hook_resid_post", "up1.hook_resid_post"):
    assert s in unet, (s, unet)
x = torch.load(f"{d}/x.pt")
# In Python: the saved models keep the hook points as submodules, and the
# values there are the model's own: recomputed from its parameters here.
for arch in ("mlp", "cnn", "resnet"):
    m = torch.jit.load(f"{d}/{arch}.pt")
    subs = dict(m.named_children())
    for s in want[arch]:
        assert s in subs, (arch, s, list(subs))
    assert torch.allclose(m.features(x), t(r[f"features_{arch}"]), atol=1e-5), arch
cnn = torch.jit.load(f"{d}/cnn.pt")
p = dict(cnn.named_parameters())
F = torch.nn.functional
pre1 = F.conv2d(x, p["conv1_weight"], p["conv1_bias"], padding=1)
a = r["cnn_named"]
assert torch.allclose(t(a["hook_conv1_pre"]), pre1, atol=1e-5)
assert torch.allclose(t(a["hook_conv1_post"]), pre1.relu(), atol=1e-5)
assert torch.allclose(t(a["hook_conv2_post"]), cnn.features(x), atol=1e-5)
assert t(a["hook_conv1_pre"]).min() < 0 <= t(a["hook_conv1_post"]).min(), "pre and post of the ReLU are the same value"
assert torch.allclose(t(r["outputs_cnn"]), cnn(x), atol=1e-5)
assert not torch.allclose(t(r["zero_conv1"]), t(r["outputs_cnn"]), atol=1e-3), "zeroing hook_conv1_post changed nothing"
res = torch.jit.load(f"{d}/resnet.pt")
assert torch.allclose(t(r["resnet_block2"]), res.features(x), atol=1e-5)
mlp = torch.jit.load(f"{d}/mlp.pt")
assert torch.allclose(t(r["mlp_fc2"]), mlp.features(x), atol=1e-5)
unet = torch.jit.load(f"{d}/unet.pt")
t7 = torch.tensor([7])
assert torch.allclose(t(r["eps_at_t"]), unet(x, t7), atol=1e-5), "model.bind(args=[t]) is not forward(x, t)"
assert torch.allclose(t(r["temb_at_t"]), unet.time_embedding(t7).expand(x.shape[0], -1), atol=1e-5)
assert set(r["hooks_unet"]["hook"]) == set(r["unet_hooks_bound"]["hook"]), "model.bind changed the hook paths"
print("ok: named hook points in mlp, cnn, resnet and the UNet; values equal the models' own; kept in Python; "
      "model.bind fixes the UNet's timestep")
PY
exit $fail
