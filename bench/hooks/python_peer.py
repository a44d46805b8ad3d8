"""The hook benchmark's model and its Python peer (bench/hooks/run.sh).

    python python_peer.py OUT_DIR THREADS REPEATS

Builds a Fashion-MNIST-sized CNN as nn.Modules (seeded), saves it scripted to
OUT_DIR/cnn.pt with a batch of 64 inputs (x.pt), and times in eager PyTorch,
with THREADS threads: a plain forward pass, one with a forward hook capturing
features.3, and one with a forward hook zeroing it (the intervention
model.patch makes). Prints the best of REPEATS runs as JSON, and saves the
zeroed outputs (python_zero.pt) so the benchmark can check both did the same.
"""
import json
import sys
import time

import torch

out, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = torch.nn.Sequential()
net.add_module("features", torch.nn.Sequential(
    torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)))
net.add_module("head", torch.nn.Sequential(
    torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)))
net.eval()
x = torch.rand(64, 1, 28, 28)
torch.jit.script(net).save(f"{out}/cnn.pt")
torch.save(x, f"{out}/x.pt")


def best(f):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


site = net.features[3]
with torch.no_grad():
    plain = best(lambda: net(x))
    saved = {}
    h = site.register_forward_hook(lambda m, i, o: saved.__setitem__("v", o))
    capture = best(lambda: net(x))
    h.remove()
    h = site.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    zero = best(lambda: net(x))
    torch.save(net(x), f"{out}/python_zero.pt")
    h.remove()
print(json.dumps({"plain": plain, "capture": capture, "zero": zero, "torch": torch.__version__}))
