"""Zennit's answers on a small CNN, for tests/python/zennit_agreement_test.sh.

    python make_zennit_cases.py OUT_DIR

Writes cnn.pt (scripted), x.pt, targets.pt and expected.pt: Zennit 0.5's
Gradient (the signed gradient of the target's output) and IntegratedGradients
(its own discretisation: n_iter steps at alpha = k/n, k = 1..n, a right
Riemann sum, from a zero baseline) with the target's one-hot as attr_output.
Seeded: the same files every time.
"""
import sys

import torch
import zennit
from zennit.attribution import Gradient, IntegratedGradients
from zennit.composites import (EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus,
                               EpsilonPlusFlat)

out = sys.argv[1]
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(6, 6, 3, padding=1), torch.nn.Softplus(), torch.nn.Flatten(), torch.nn.Linear(6 * 6 * 6, 4)).eval()
x = torch.rand(5, 1, 12, 12)
targets = torch.tensor([0, 1, 2, 3, 1])
one_hot = torch.eye(4)[targets]

expected = {}
with Gradient(net) as attributor:
    _, expected["gradient"] = attributor(x, one_hot)
with IntegratedGradients(net, n_iter=20) as attributor:
    _, expected["ig"] = attributor(x, one_hot)
# LRP composites, relevance seeded with the target's output (pipette's and
# Captum's convention; Zennit's one-hot seed gives these divided by it).
def seeded(output):
    return output * one_hot


for name, composite in [("epsilon_plus_flat", EpsilonPlusFlat()), ("epsilon_plus", EpsilonPlus()),
                        ("epsilon_alpha2_beta1", EpsilonAlpha2Beta1()),
                        ("epsilon_alpha2_beta1_flat", EpsilonAlpha2Beta1Flat()),
                        ("epsilon_gamma_box", EpsilonGammaBox(low=0.0, high=1.0))]:
    with Gradient(net, composite=composite) as attributor:
        _, expected["lrp_" + name] = attributor(x, seeded)
torch.jit.script(net).save(f"{out}/cnn.pt")
torch.save(x, f"{out}/x.pt")
torch.save(targets, f"{out}/targets.pt")
torch.save({k: v.detach() for k, v in expected.items()}, f"{out}/expected.pt")
print(f"zennit {zennit.__version__}" if hasattr(zennit, "__version__") else "zennit")
