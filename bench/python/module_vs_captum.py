"""pipette's attribution ops called from Python against Captum's, in one process.

    build/python-peers/bin/python bench/python/module_vs_captum.py [--threads 2] [--repeats 3]

(with build/python on the path: scripts/python-module.sh puts it there for
Debian's Python; the torch2 build's is build-torch2/build/python). The same
model (a ReLU CNN on 28x28 images, 10 classes, random weights) and inputs go
to both; each case prints the best of REPEATS seconds after a warm-up, and
Captum's time over pipette's. pipette's time includes what a Python call
costs it: writing the call, handing the tensors over (no copy), compiling,
running (the model is loaded into pipette once, at the warm-up call).
Also printed: that cost alone, from a call that does almost no work, and the
same op's own time inside the engine (its node's seconds in a pipette.run of
a script on the same model and tensors, from files): call / node near 1.0
means the Python call keeps what the engine's own benchmark measures.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import torch

import pipette

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attribution"))
try:
    from captum.attr import FeatureAblation, IntegratedGradients, Occlusion, ShapleyValueSampling
    from captum_kernel_shap import kernel_shap
except ImportError as e:
    raise SystemExit(f"module_vs_captum: Captum is not importable ({e}); use build/python-peers/bin/python")


def interleaved(calls, repeats):
    """Best seconds of each of `calls` (functions returning seconds), measured in
    turn, round after round: this machine's speed drifts by 2x within seconds,
    and a case timed in one stretch would carry the drift into its ratio."""
    for c in calls:
        c()  # warm-up
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for i, c in enumerate(calls):
            best[i] = min(best[i], c())
    return best


def timed(fn):
    def run():
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return run


def node_run(workdir, call):
    """The op's node seconds when pipette.run runs `call` on the saved model and tensors."""
    script = os.path.join(workdir, "case.pipe")
    with open(script, "w") as f:
        f.write('let net = model.load("net.pt")\nlet x64 = tensor.load("x64.pt")\nlet t64 = tensor.load("t64.pt")\n'
                'let x16 = tensor.load("x16.pt")\nlet t16 = tensor.load("t16.pt")\nlet grid = tensor.load("grid.pt")\n'
                f'report "a" = {call}\n')
    count = [0]

    def run():
        count[0] += 1
        r = pipette.run(script, cache=False, out=os.path.join(workdir, f"run{count[0]}"), jobs=1)
        return [n for n in r.nodes if n["op"].startswith("attr.")][0]["seconds"]
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(784, 10)).eval()
    scripted = torch.jit.script(net)
    x64, t64 = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    x16, t16 = x64[:16].clone(), t64[:16].clone()
    grid = ((torch.arange(28).view(28, 1) // 4) * 7 + torch.arange(28).view(1, 28) // 4).view(1, 1, 28, 28)
    ks = kernel_shap(scripted)
    a = pipette.ops.attr
    workdir = tempfile.mkdtemp(prefix="pipette-module-bench-")
    scripted.save(os.path.join(workdir, "net.pt"))
    for name, t in [("x64", x64), ("t64", t64), ("x16", x16), ("t16", t16), ("grid", grid)]:
        torch.save(t, os.path.join(workdir, name + ".pt"))
    # The same calls as script text, for their node's own time.
    as_script = {
        "ig_cnn_50": "attr.integrated_gradients(net, x64, target=t64, steps=50)",
        "occlusion": "attr.occlusion(net, x64, target=t64, window=[4, 4], strides=[2, 2])",
        "feature_ablation": "attr.feature_ablation(net, x64, target=t64, feature_mask=grid)",
        "kernel_shap": "attr.kernel_shap(net, x16, target=t16, feature_mask=grid, n_samples=256)",
        "shapley_sampling": "attr.shapley_value_sampling(net, x16, target=t16, feature_mask=grid, n_samples=25)",
    }
    cases = [
        ("ig_cnn_50", "IG, 50 steps, batch 64",
         lambda: a.integrated_gradients(scripted, x64, target=t64, steps=50),
         lambda: IntegratedGradients(scripted).attribute(x64, target=t64, n_steps=50)),
        ("occlusion", "occlusion 4x4 stride 2, batch 64",
         lambda: a.occlusion(scripted, x64, target=t64, window=[4, 4], strides=[2, 2]),
         lambda: Occlusion(scripted).attribute(x64, target=t64, sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2))),
        ("feature_ablation", "feature ablation, 49 superpixels, batch 64",
         lambda: a.feature_ablation(scripted, x64, target=t64, feature_mask=grid),
         lambda: FeatureAblation(scripted).attribute(x64, target=t64, feature_mask=grid)),
        ("kernel_shap", "KernelSHAP, 49 superpixels, 256 coalitions, batch 16",
         lambda: a.kernel_shap(scripted, x16, target=t16, feature_mask=grid, n_samples=256),
         lambda: ks.attribute(x16, target=t16, feature_mask=grid, n_samples=256)),
        ("shapley_sampling", "Shapley sampling, 49 superpixels, 25 orders, batch 16",
         lambda: a.shapley_value_sampling(scripted, x16, target=t16, feature_mask=grid, n_samples=25),
         lambda: ShapleyValueSampling(scripted).attribute(x16, target=t16, feature_mask=grid, n_samples=25)),
    ]
    overhead = interleaved([timed(lambda: a.saliency(scripted, x64[:1], target=0))], args.repeats * 3)[0]
    print(f"# pipette {pipette.__version__}, torch {torch.__version__}, {args.threads} threads, "
          f"best of {args.repeats}, interleaved; one call's own cost (saliency of one image): {overhead * 1e3:.1f} ms")
    print(f"{'case':<18} {'pipette s':>10} {'Captum s':>10} {'Captum/pipette':>15} {'node s':>8} {'call/node':>10}")
    for name, what, ours, theirs in cases:
        p, c, node = interleaved([timed(ours), timed(theirs), node_run(workdir, as_script[name])], args.repeats)
        print(f"{name:<18} {p:>10.4f} {c:>10.4f} {c / p:>14.1f}x {node:>8.4f} {p / node:>10.2f}   {what}")
        print(json.dumps({"case": name, "pipette_s": p, "captum_s": c, "ratio": c / p, "node_s": node}), flush=True)


if __name__ == "__main__":
    main()
