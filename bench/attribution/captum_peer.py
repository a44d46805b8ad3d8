"""Captum on the cases of attribution_bench, for its ratios.

    /usr/bin/python3 bench/attribution/captum_peer.py CAPTUM_DIR CASE_DIR THREADS REPEATS

CAPTUM_DIR holds the `captum` package (a checkout of github.com/pytorch/captum;
needs python3-tqdm). CASE_DIR holds the TorchScript models and tensors the
benchmark wrote. Prints one JSON line per case: best seconds over REPEATS
after a warm-up, and the peak resident memory above the resident memory
before one more call, made after handing freed memory back to the system
(the kernel's high-water mark, reset through /proc/self/clear_refs, as
pipette's executor measures its nodes). As attribution_bench does.
"""
import ctypes
import gc
import json
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from captum._utils.models.linear_model import LinearModel  # noqa: E402
from captum.attr import (  # noqa: E402
    FeatureAblation, IntegratedGradients, KernelShap, NoiseTunnel, Occlusion,
    Saliency, ShapleyValueSampling)

case_dir, threads, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)


def load(name):
    return torch.load(os.path.join(case_dir, name))


def lstsq_train(model, dataloader, construct_kwargs, **kwargs):
    # Weighted least squares in torch: KernelShap's default trainer needs
    # scikit-learn, which this machine does not have. Its cost is negligible
    # next to the model evaluations being compared.
    xs, ys, ws = [], [], []
    for batch in dataloader:
        xs.append(batch[0])
        ys.append(batch[1])
        ws.append(batch[2] if len(batch) == 3 else torch.ones(len(batch[0])))
    x, y, w = torch.cat(xs).double(), torch.cat(ys).double(), torch.cat(ws).double()
    design = torch.cat([torch.ones(len(x), 1, dtype=x.dtype), x], 1) * w.sqrt().view(-1, 1)
    coef = torch.linalg.lstsq(design, (y.view(len(y), -1) * w.sqrt().view(-1, 1))).solution
    model._construct_model_params(norm_type=None, weight_values=coef[1:].t().float(),
                                  bias_value=coef[0].float().view(-1))
    return {}


def kernel_shap():
    method = KernelShap(cnn)
    method.interpretable_model = LinearModel(train_fn=lstsq_train)  # in place of the scikit-learn one
    return method


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
x64, t64 = load("x64.pt"), load("t64.pt")
x16, t16 = load("x16.pt"), load("t16.pt")
x256, t256 = load("x256.pt"), load("t256.pt")
grid = load("grid.pt")

cases = {
    "ig_cnn_50": lambda: IntegratedGradients(cnn).attribute(x64, target=t64, n_steps=50),
    "ig_mlp_50": lambda: IntegratedGradients(mlp).attribute(x256, target=t256, n_steps=50),
    "occlusion": lambda: Occlusion(cnn).attribute(x64, target=t64, sliding_window_shapes=(1, 4, 4),
                                                  strides=(1, 2, 2)),
    "feature_ablation": lambda: FeatureAblation(cnn).attribute(x64, target=t64, feature_mask=grid),
    "shapley_sampling": lambda: ShapleyValueSampling(cnn).attribute(x16, target=t16, feature_mask=grid,
                                                                    n_samples=25),
    "kernel_shap": lambda: kernel_shap().attribute(x16, target=t16, feature_mask=grid, n_samples=256),
    "occlusion_tiny": lambda: Occlusion(tiny).attribute(x64, target=t64, sliding_window_shapes=(1, 4, 4),
                                                        strides=(1, 2, 2)),
    "ablation_tiny": lambda: FeatureAblation(tiny).attribute(x64, target=t64, feature_mask=grid),
    "shapley_tiny": lambda: ShapleyValueSampling(tiny).attribute(x16, target=t16, feature_mask=grid,
                                                                 n_samples=25),
    "ablation_mlp": lambda: FeatureAblation(mlp).attribute(x256, target=t256),
    "shapley_mlp": lambda: ShapleyValueSampling(mlp).attribute(x256, target=t256, n_samples=25),
    "noise_tunnel": lambda: NoiseTunnel(Saliency(cnn)).attribute(x64, target=t64, nt_type="smoothgrad",
                                                                 nt_samples=10, stdevs=0.1),
}
wanted = sys.argv[5:] or list(cases)
for name in wanted:
    if name in cases:
        seconds, peak = measure(cases[name])
        print(json.dumps({"case": name, "seconds": seconds, "peak_bytes": peak}), flush=True)
