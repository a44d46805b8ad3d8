"""Hook points in a model pipette never saw, and what Python computes there,
for tests/python/hook_points_test.sh.

    python make_hook_cases.py OUT_DIR

A CNN with nested nn.Sequential, two residual blocks (a skip connection, a
ReLU module applied twice) and a head, scripted (net_scripted.pt) and traced
(net_traced.pt); pairnet.pt, whose submodule returns a tuple. expected.pt holds
what Python forward hooks read and do at the same paths (activations, zero,
replace, add, scale, mean ablation over all inputs, channels zeroed, activation
patching from other inputs), nnsight's .output.save() and .input.save() at
some paths, and Captum's LayerGradCam, LayerIntegratedGradients, LayerActivation
and LayerGradientXActivation at named modules, GuidedBackprop and
Deconvolution (rules at the ReLU modules). net_exported.pt2 is the same net from
torch.export. Seeded: the same files every time.
"""
import sys
from typing import Dict

import torch
from captum.attr import (Deconvolution, GuidedBackprop, IntegratedGradients, LayerActivation, LayerConductance, LayerGradCam,
                          LayerGradientXActivation, LayerIntegratedGradients)
from nnsight import NNsight

out = sys.argv[1]
torch.manual_seed(0)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.conv2(self.relu(self.conv1(x))))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), Block(4), Block(4))
        self.head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16, 3))

    def forward(self, x):
        return self.head(self.features(x))


class TwoInputs(torch.nn.Module):
    """forward(x, mask, scale) -> {"logits", "features"}: a model as users write them."""
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh())
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, scale: float) -> Dict[str, torch.Tensor]:
        h = self.body(x * mask) * scale
        return {"features": h, "logits": self.fc(h)}


class Pair(torch.nn.Module):
    def forward(self, x):
        return x.relu(), -x


class PairNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x):
        a, b = self.pair(x)
        return self.fc(torch.cat([a, b], 1))


net = Net().eval()
x = torch.rand(6, 1, 8, 8)
source = torch.rand(6, 1, 8, 8)
targets = torch.tensor([0, 1, 2, 0, 1, 2])
torch.jit.script(net).save(f"{out}/net_scripted.pt")
torch.jit.trace(net, x).save(f"{out}/net_traced.pt")
# The same net from torch.export (any batch size), whose hook points come
# from each node's module path instead of submodule calls.
torch.export.save(torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)),
                  f"{out}/net_exported.pt2")
torch.jit.script(PairNet().eval()).save(f"{out}/pairnet.pt")


def module(path):
    m = net
    for part in path.split("."):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


def with_hook(path, fn, inputs=x):
    """The model's outputs with a forward hook at `path` returning fn(output)."""
    h = module(path).register_forward_hook(lambda mod, inp, o: fn(o))
    try:
        with torch.no_grad():
            return net(inputs)
    finally:
        h.remove()


def activation(path, inputs=x):
    got = {}
    with_hook(path, lambda o: got.__setitem__("v", o), inputs)
    return got["v"]


e = {"outputs": net(x).detach(), "outputs_zero": net(torch.zeros_like(x)).detach()}
with torch.no_grad():
    e["act_conv2"] = activation("features.2.conv2")
    e["act_head1"] = activation("head.1")
    got = {}
    h = module("features.3").register_forward_pre_hook(lambda mod, inp: got.__setitem__("v", inp[0]))
    net(x)
    h.remove()
    e["act_f3_input"] = got["v"]
value = torch.rand(4, 8, 8)
e["value"] = value
e["zero_f1"] = with_hook("features.1", torch.zeros_like)
e["replace_f2"] = with_hook("features.2", lambda o: value.expand_as(o))
e["add_conv1"] = with_hook("features.2.conv1", lambda o: o + value)
e["scale_head0"] = with_hook("head.0", lambda o: o * 0.5)
mean_f0 = activation("features.0").mean(0, keepdim=True)
e["mean_f0"] = with_hook("features.0", lambda o: mean_f0.expand_as(o))
def channels_zeroed(o):
    o = o.clone()
    o[:, [1, 3]] = 0
    return o
e["zero_channels_f0"] = with_hook("features.0", channels_zeroed)
patched = activation("features.3", source)
e["patch_f3"] = with_hook("features.3", lambda o: patched)

nn = NNsight(net)
with nn.trace(x):
    saved_out = nn.features[2].conv2.output.save()
    saved_in = nn.head[2].input.save()
e["nnsight_conv2"] = saved_out.detach()
e["nnsight_head2_input"] = saved_in.detach()

e["captum_gradcam_f3"] = LayerGradCam(net, net.features[3]).attribute(x, target=targets).detach()
e["captum_lig_conv2"] = LayerIntegratedGradients(net, net.features[2].conv2).attribute(
    x, baselines=torch.zeros_like(x), target=targets, n_steps=32, method="gausslegendre").detach()
e["captum_layer_act_f2"] = LayerActivation(net, net.features[2]).attribute(x).detach()
e["captum_gxa_conv1"] = LayerGradientXActivation(net, net.features[2].conv1).attribute(x, target=targets).detach()
e["captum_cond_f2"] = LayerConductance(net, net.features[2]).attribute(
    x, baselines=torch.zeros_like(x), target=targets, n_steps=32, method="gausslegendre").detach()
e["captum_cond_conv1_left"] = LayerConductance(net, net.features[2].conv1).attribute(
    x, baselines=torch.zeros_like(x), target=targets, n_steps=16, method="riemann_left").detach()
e["captum_guided"] = GuidedBackprop(net).attribute(x, target=targets).detach()
e["captum_deconv"] = Deconvolution(net).attribute(x, target=targets).detach()
# Two inputs and a dict output: what Captum reads through a forward function
# that fixes the extra arguments and picks "logits".
two = TwoInputs().eval()
torch.jit.script(two).save(f"{out}/two_inputs.pt")
tx = torch.rand(5, 8)
mask = (torch.rand(8) > 0.3).float()
fwd = lambda inp: two(inp, mask, 0.5)["logits"]
e["two_outputs"] = fwd(tx).detach()
e["two_ig"] = IntegratedGradients(fwd).attribute(tx, target=1, n_steps=32, method="gausslegendre").detach()
e["two_lig_body1"] = LayerIntegratedGradients(fwd, two.body[1]).attribute(tx, target=1, n_steps=32).detach()
h = two.body[1].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
with torch.no_grad():
    e["two_zero_body1"] = fwd(tx)
h.remove()
torch.save(tx, f"{out}/two_x.pt")
torch.save(mask, f"{out}/mask.pt")
torch.save(x, f"{out}/x.pt")
torch.save(source, f"{out}/source.pt")
torch.save(targets, f"{out}/targets.pt")
torch.save(value, f"{out}/value.pt")
torch.save(torch.zeros(3, 3), f"{out}/bad_value.pt")
torch.save(torch.rand(3, 4), f"{out}/pair_x.pt")
torch.save(e, f"{out}/expected.pt")
print(f"torch {torch.__version__}")
