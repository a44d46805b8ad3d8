"""Models and files as a PyTorch 2.x user saves them, and the current Captum's
answers on them, for tests/python/current_pytorch_test.sh.

    python make_current_models.py OUT_DIR

Writes into OUT_DIR: cnn_scripted.pt, cnn_traced.pt, resnet_scripted.pt,
resnet_traced.pt, dict_scripted.pt and dict_traced.pt (a CNN returning
{"features", "logits"}), tuple_scripted.pt (returning (features, logits)),
(torch.jit.save of each), x.pt (inputs), targets.pt,
state_dict.pt (the CNN's), weights.safetensors (the same, by the safetensors
package), and expected.pt: a dict of what Python computes (each model's
outputs in eval mode, and Captum's IntegratedGradients on the CNN). Seeded:
the same files every time. Runs with the Python of scripts/torch2.sh.
"""
import sys
from typing import Dict, Tuple

import torch
from captum.attr import IntegratedGradients
from safetensors.torch import save_file

out = sys.argv[1]
torch.manual_seed(0)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Tanh(),
            torch.nn.AdaptiveAvgPool2d(2))
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 5))

    def forward(self, x):
        return self.head(self.features(x))


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class ResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.blocks = torch.nn.Sequential(Block(8), Block(8))
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        h = self.blocks(torch.relu(self.stem(x)))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1))


class DictNet(Cnn):
    """A model as detection heads and Hugging Face models are written: several outputs by name."""

    def forward(self, x) -> Dict[str, torch.Tensor]:
        h = self.features(x)
        return {"features": h, "logits": self.head(h)}


class TupleNet(Cnn):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return h, self.head(h)


x = torch.rand(6, 1, 12, 12)
targets = torch.tensor([0, 1, 2, 3, 4, 0])
expected = {}
for name, net in (("cnn", Cnn()), ("resnet", ResNet())):
    # Running statistics that are not the identity, so eval mode matters.
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(16, 1, 12, 12) * 2)
    net.eval()
    torch.jit.script(net).save(f"{out}/{name}_scripted.pt")
    torch.jit.trace(net, x).save(f"{out}/{name}_traced.pt")
    with torch.no_grad():
        expected[f"{name}_outputs"] = net(x)
    if name == "cnn":
        expected["cnn_ig"] = IntegratedGradients(net).attribute(
            x, baselines=0.0, target=targets, n_steps=50, method="gausslegendre").detach()
        torch.save(net.state_dict(), f"{out}/state_dict.pt")
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, f"{out}/weights.safetensors")
for name, net in (("dict", DictNet()), ("tuple", TupleNet())):
    net.eval()
    torch.jit.script(net).save(f"{out}/{name}_scripted.pt")
    with torch.no_grad():
        expected[f"{name}_outputs"] = net(x)
    if name == "dict":
        expected["dict_ig"] = IntegratedGradients(lambda v: net(v)["logits"]).attribute(
            x, baselines=0.0, target=targets, n_steps=50, method="gausslegendre").detach()
        # A traced dict needs strict=False, as a traced Hugging Face model does.
        torch.jit.trace(net, x, strict=False).save(f"{out}/dict_traced.pt")
torch.save(x, f"{out}/x.pt")
torch.save(targets, f"{out}/targets.pt")
torch.save(expected, f"{out}/expected.pt")
print(f"torch {torch.__version__}")
