"""Quantus' answers for the metrics that call a model, for
tests/python/quantus_agreement_test.sh.

    python quantus_model_metrics.py OUT_DIR

Writes a scripted CNN (cnn.pt), inputs x.pt [4, 1, 8, 8], labels y.pt,
tie-free attributions qa.pt, the off-targets of RandomLogit (off.pt) and
quantus_model.json: per metric the score of every input as Quantus 0.6
computes it, with per-input normalisation (normalise_axes=[1, 2, 3]; pipette
normalises each input by its own largest |value|, Quantus by the batch's by
default) and the deterministic settings each metric allows. Seeded.
"""
import json
import sys
import warnings

import numpy as np
import quantus
import torch

warnings.filterwarnings("ignore")
np.trapz = getattr(np, "trapz", None) or np.trapezoid  # Quantus 0.6 calls np.trapz (gone in numpy 2.4)
out = sys.argv[1]
torch.manual_seed(7)
model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(2 * 8 * 8, 3)).eval()
x = torch.rand(4, 1, 8, 8).numpy()
a = np.random.RandomState(1).randn(4, 1, 8, 8).astype(np.float32)
y = model(torch.tensor(x)).argmax(1).numpy()


def explain(model, inputs, targets, **kw):  # the signed gradient: pipette's attr.saliency(abs=false)
    xi = torch.tensor(np.asarray(inputs), dtype=torch.float32, requires_grad=True)
    o = model(xi)
    o[torch.arange(len(xi)), torch.as_tensor(targets).long()].sum().backward()
    return xi.grad.numpy()


per_input = dict(normalise_func_kwargs={"normalise_axes": [1, 2, 3]}, disable_warnings=True, display_progressbar=False)
call = dict(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu")
r = {}
r["faithfulness_estimate"] = quantus.FaithfulnessEstimate(features_in_step=4, **per_input)(**call)
r["monotonicity_correlation"] = quantus.MonotonicityCorrelation(
    features_in_step=4, nr_samples=1, perturb_baseline="black", **per_input)(**call)
curves = quantus.Selectivity(patch_size=4, **per_input)(**call)
r["selectivity"] = [float(np.trapz(c)) for c in curves]
# IROF on one segment per pixel (pipette's default grid at 8 x 8), one input per batch: Quantus' "mean"
# baseline is the batch's mean, pipette's the input's.
grid = np.arange(64).reshape(8, 8)
quantus.helpers.utils.get_superpixel_segments = lambda img, segmentation_method: grid
r["irof"] = quantus.IROF(return_aggregate=False, **per_input)(**call, batch_size=1)
# Sufficiency normalises its distance matrix with the same function (so no per-input axes), and compares
# standardised distances: without normalising, on both sides. Consistency reads signs only.
plain = dict(normalise=False, disable_warnings=True, display_progressbar=False)
r["sufficiency"] = quantus.Sufficiency(threshold=0.95, **plain)(**call)
r["consistency"] = quantus.Consistency(**plain)(**call)
r["continuity"] = quantus.Continuity(nr_steps=4, **per_input)(**call, explain_func=explain)
r["random_logit"] = quantus.RandomLogit(num_classes=3, **per_input)(**call, explain_func=explain)
j = np.random.RandomState(42).randint(0, 2, size=len(y))  # RandomLogit's own draw (seed 42)
off = np.array([[c for c in range(3) if c != y[i]][j[i]] for i in range(len(y))])
# ROAD without noise (deterministic): the accuracy per percentage, 1, 3, ..., 99.
road = quantus.ROAD(noise=0.0, **per_input)(**call)
r["road"] = [road[p] for p in sorted(road)]
json.dump({k: [float(v) for v in vs] for k, vs in r.items()}, open(f"{out}/quantus_model.json", "w"), indent=1)
torch.jit.script(model).save(f"{out}/cnn.pt")
for name, v in (("x", x), ("qa", a), ("y", y), ("off", off)):
    torch.save(torch.from_numpy(np.asarray(v)), f"{out}/{name}.pt")
print("quantus", quantus.__version__)
