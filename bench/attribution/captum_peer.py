"""Captum on the cases of attribution_bench, for its ratios.

    /usr/bin/python3 bench/attribution/captum_peer.py CAPTUM_DIR CASE_DIR THREADS REPEATS

CAPTUM_DIR holds the `captum` package (a checkout of github.com/pytorch/captum;
needs python3-tqdm). CASE_DIR holds the TorchScript models and tensors the
benchmark wrote. Prints one JSON line per case: best seconds over REPEATS
after a warm-up, and the peak resident memory above the resident memory
before one more call, made after handing freed memory back to the system
(the kernel's high-water mark, reset through /proc/self/clear_refs, as
pipette's executor measures its nodes). As attribution_bench does. For the
perturbation methods also forward_seconds: the forward passes Captum made,
replayed bare, so that Captum's time splits into model and overhead.
"""
import ctypes
import gc
import json
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from captum.attr import (  # noqa: E402
    DeepLift, FeatureAblation, GuidedBackprop, GuidedGradCam, IntegratedGradients, NoiseTunnel, Occlusion,
    Saliency, ShapleyValueSampling)
from captum.robust import FGSM, PGD  # noqa: E402
from captum_kernel_shap import kernel_shap  # noqa: E402  (beside this file)

case_dir, threads, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)


def load(name):
    return torch.load(os.path.join(case_dir, name))


def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


libc = ctypes.CDLL("libc.so.6")


def measure(fn):
    fn()  # warm-up
    best, peak = float("inf"), -1
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    # The peak, untimed: from a trimmed heap, so that it starts at the live set.
    gc.collect()
    libc.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = rss("VmRSS")
        fn()
        peak = rss("VmHWM") - before
    except OSError:
        pass
    return best, peak


cnn, mlp = torch.jit.load(os.path.join(case_dir, "cnn.pt")), torch.jit.load(os.path.join(case_dir, "mlp.pt"))
tiny = torch.jit.load(os.path.join(case_dir, "tiny.pt"))
# Captum's rules hook nn.Module instances: the ReLU CNN rebuilt in eager PyTorch from the scripted one's weights.
relu_cnn = torch.nn.Sequential(
    torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1),
    torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
relu_cnn.load_state_dict(torch.jit.load(os.path.join(case_dir, "relu_cnn.pt")).state_dict())
ce = torch.nn.CrossEntropyLoss(reduction="none")
x64, t64 = load("x64.pt"), load("t64.pt")
x16, t16 = load("x16.pt"), load("t16.pt")
x256, t256 = load("x256.pt"), load("t256.pt")
grid = load("grid.pt")

# Each case takes the models by name, so that the forward passes Captum makes
# can be recorded (see forward_floor).
cases = {
    "ig_cnn_50": lambda m: IntegratedGradients(m["cnn"]).attribute(x64, target=t64, n_steps=50),
    "ig_mlp_50": lambda m: IntegratedGradients(m["mlp"]).attribute(x256, target=t256, n_steps=50),
    "occlusion": lambda m: Occlusion(m["cnn"]).attribute(x64, target=t64, sliding_window_shapes=(1, 4, 4),
                                                         strides=(1, 2, 2)),
    "feature_ablation": lambda m: FeatureAblation(m["cnn"]).attribute(x64, target=t64, feature_mask=grid),
    "shapley_sampling": lambda m: ShapleyValueSampling(m["cnn"]).attribute(x16, target=t16, feature_mask=grid,
                                                                           n_samples=25),
    "kernel_shap": lambda m: kernel_shap(m["cnn"]).attribute(x16, target=t16, feature_mask=grid, n_samples=256),
    "occlusion_tiny": lambda m: Occlusion(m["tiny"]).attribute(x64, target=t64, sliding_window_shapes=(1, 4, 4),
                                                               strides=(1, 2, 2)),
    "ablation_tiny": lambda m: FeatureAblation(m["tiny"]).attribute(x64, target=t64, feature_mask=grid),
    "shapley_tiny": lambda m: ShapleyValueSampling(m["tiny"]).attribute(x16, target=t16, feature_mask=grid,
                                                                        n_samples=25),
    "ablation_mlp": lambda m: FeatureAblation(m["mlp"]).attribute(x256, target=t256),
    "shapley_mlp": lambda m: ShapleyValueSampling(m["mlp"]).attribute(x256, target=t256, n_samples=25),
    "noise_tunnel": lambda m: NoiseTunnel(Saliency(m["cnn"])).attribute(x64, target=t64, nt_type="smoothgrad",
                                                                        nt_samples=10, stdevs=0.1),
    "saliency": lambda m: Saliency(m["relu_cnn"]).attribute(x64, target=t64, abs=False),
    "guided_backprop": lambda m: GuidedBackprop(m["relu_cnn"]).attribute(x64, target=t64),
    "deep_lift": lambda m: DeepLift(m["relu_cnn"]).attribute(x64, target=t64),
    "guided_grad_cam": lambda m: GuidedGradCam(m["relu_cnn"], m["relu_cnn"][3]).attribute(x64, target=t64),
    "fgsm": lambda m: FGSM(m["cnn"], ce, 0.0, 1.0).perturb(x64, 0.03, t64),
    "pgd": lambda m: PGD(m["cnn"], ce, 0.0, 1.0).perturb(x64, 0.03, 0.0075, 10, t64),
}
# Methods that only evaluate the model: their forward passes can be replayed.
perturbation = {"occlusion", "feature_ablation", "shapley_sampling", "kernel_shap", "occlusion_tiny",
                "ablation_tiny", "shapley_tiny", "ablation_mlp", "shapley_mlp"}


class Recorder:
    """Calls a model and notes the shape of every batch it was given."""

    def __init__(self, model):
        self.model, self.shapes = model, []

    def __call__(self, x, *args):
        self.shapes.append(tuple(x.shape))
        return self.model(x, *args)


def forward_floor(case):
    """Best time of the bare forward passes a perturbation method made (same
    model, same batch shapes, same count, no Captum): what is left of Captum's
    time is its own overhead. Recorded in one untimed call."""
    recorders = {name: Recorder(model) for name, model in models.items()}
    case(recorders)
    calls = [(recorders[name].model, shape) for name in recorders for shape in recorders[name].shapes]
    inputs = {shape: torch.rand(shape) for _, shape in calls}

    def replay():
        with torch.no_grad():
            for model, shape in calls:
                model(inputs[shape])

    replay()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        replay()
        best = min(best, time.perf_counter() - t0)
    return best


models = {"cnn": cnn, "mlp": mlp, "tiny": tiny, "relu_cnn": relu_cnn}
wanted = sys.argv[5:] or list(cases)
for name in wanted:
    if name in cases:
        seconds, peak = measure(lambda: cases[name](models))
        line = {"case": name, "seconds": seconds, "peak_bytes": peak}
        if name in perturbation:
            line["forward_seconds"] = forward_floor(cases[name])
        print(json.dumps(line), flush=True)
