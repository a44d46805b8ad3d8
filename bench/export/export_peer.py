"""The torch.export benchmark's models and their eager peer (bench/export/run.sh).

    python export_peer.py OUT_DIR THREADS REPEATS

Builds (seeded) a Fashion-MNIST-sized CNN with batch norm, a small GPT-style
transformer (2 blocks, width 64, 32 tokens) and a chain of 64 tiny linear
layers; saves each scripted (NAME.pt) and exported with a dynamic batch
(NAME.pt2), with an input batch (NAME_x.pt); and times in eager PyTorch, with
THREADS threads, a forward + backward pass (the gradient of the outputs' sum
with respect to the input, or the parameters for the token model), best of
REPEATS. Prints the times as JSON.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

out, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
B = torch.export.Dim("batch", min=1, max=4096)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.conv2, self.bn2 = nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.fc1, self.fc2 = nn.Linear(32 * 7 * 7, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.max_pool2d(F.relu(self.bn2(self.conv2(h))), 2)
        return self.fc2(F.relu(self.fc1(h.flatten(1))))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.register_buffer("mask", torch.tril(torch.ones(32, 32, dtype=torch.bool)))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5
        y = a.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab=100, d=64, heads=4, n=2):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(32, d) * 0.1)
        self.blocks = nn.Sequential(*(Block(d, heads) for _ in range(n)))
        self.ln_f, self.unembed = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, tokens):
        return self.unembed(self.ln_f(self.blocks(self.embed(tokens) + self.pos[: tokens.shape[1]])))


class Chain(nn.Module):
    def __init__(self, n=64):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))

    def forward(self, x):
        for l in self.layers:
            x = torch.tanh(l(x))
        return x


models = {"cnn": (CNN().eval(), torch.rand(64, 1, 28, 28)),
          "gpt": (GPT().eval(), torch.randint(0, 100, (16, 32))),
          "chain": (Chain().eval(), torch.rand(2, 4))}
times = {"torch": torch.__version__}
for name, (m, x) in models.items():
    torch.jit.script(m).save(f"{out}/{name}.pt")
    ep = torch.export.export(m, (x,), dynamic_shapes=({0: B},))
    torch.export.save(ep, f"{out}/{name}.pt2")
    torch.save(x, f"{out}/{name}_x.pt")
    times[name + "_nodes"] = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    params = [p for p in m.parameters()]

    def step():
        xi = x.clone().requires_grad_(x.is_floating_point())
        wrt = [xi] if x.is_floating_point() else params
        torch.autograd.grad(m(xi).sum(), wrt)

    step()
    best = 1e30
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    times[name] = best
print(json.dumps(times))
