"""Quantus' answers for the metrics pipette shares with it, for
tests/python/quantus_agreement_test.sh.

    python quantus_metrics.py OUT_DIR

Writes OUT_DIR/a.pt (attributions [N, 1, H, W], signed, some examples sparse),
OUT_DIR/masks.pt ([N, H, W] ground-truth regions) and OUT_DIR/quantus.json:
per metric the mean over examples, as Quantus 0.6 computes it with
normalise=False (scaling does not change these metrics; pipette does not
normalise) and each metric's default `abs`. Seeded.
"""
import json
import sys
import warnings

import numpy as np
import quantus
import torch

warnings.filterwarnings("ignore")
out = sys.argv[1]
rng = np.random.default_rng(0)
n, h, w = 8, 10, 10
a = rng.normal(size=(n, 1, h, w)).astype(np.float32)
a[::2] *= rng.random((n // 2, 1, h, w)) > 0.8  # sparser halves: a spread of sparseness
masks = np.zeros((n, 1, h, w), dtype=np.float32)
for i in range(n):
    r, c = rng.integers(0, h - 4, size=2)
    masks[i, 0, r:r + 4, c:c + 4] = 1
# The most relevant pixel inside the mask for half the examples: pointing game 0.5.
for i in range(0, n, 2):
    r, c = np.argwhere(masks[i, 0])[0]
    a[i, 0, r, c] = np.abs(a[i]).max() + 1


class Net(torch.nn.Module):  # Quantus wants a model; these metrics never call it
    def forward(self, x):
        return torch.flatten(x, 1)[:, :2]


x = np.zeros((n, 1, h, w), dtype=np.float32)
y = np.zeros(n, dtype=np.int64)
common = dict(model=Net(), x_batch=x, y_batch=y, a_batch=a, device="cpu")
results = {
    "sparseness": quantus.Sparseness(normalise=False, disable_warnings=True)(**common),
    "complexity": quantus.Complexity(normalise=False, disable_warnings=True)(**common),
    "pointing_game": quantus.PointingGame(normalise=False, disable_warnings=True)(**common, s_batch=masks),
    # Quantus sums signed relevance inside and overall (abs=False); pipette takes
    # the positive part: they agree on non-negative attributions.
    "relevance_mass": quantus.RelevanceMassAccuracy(normalise=False, disable_warnings=True)(
        **{**common, "a_batch": np.abs(a)}, s_batch=masks),
}
json.dump({k: float(np.mean(v)) for k, v in results.items()}, open(f"{out}/quantus.json", "w"), indent=1)
torch.save(torch.from_numpy(a), f"{out}/a.pt")
torch.save(torch.from_numpy(masks[:, 0]), f"{out}/masks.pt")
print("quantus", quantus.__version__)
