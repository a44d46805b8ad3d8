"""The eager-PyTorch peer of pipette's GPT (stdlib/lm/gpt.hpp) for bench/lm/run.sh.

The same layers and shapes as a plain nn.Module; trains on random token rows
with AdamW and prints seconds per step, and, for a TorchScript model file
(pipette's own, from train.lm), the same loop through torch.jit.load's module.
    python3 eager_gpt.py --vocab 900 --context 128 --width 128 --blocks 4 --rows 16 --steps 30 [--scripted clean.pt]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, h, bias):
        n, t, d = h.shape
        x = self.ln1(h)
        split = lambda y: y.view(n, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias, -1)
        h = h + self.o((a @ v).transpose(1, 2).reshape(n, t, d))
        return h + self.fc2(F.gelu(self.fc1(self.ln2(h))))


class GPT(nn.Module):
    def __init__(self, vocab, context, d, blocks, heads):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(context, d) * 0.01)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(blocks))
        self.lnf = nn.LayerNorm(d)
        self.unembed = nn.Linear(d, vocab)

    def forward(self, tokens):
        t = tokens.shape[1]
        h = F.embedding(tokens, self.embed) + self.pos[:t]
        bias = torch.triu(torch.full((t, t), -10000.0), 1)[None, None]
        for b in self.blocks:
            h = b(h, bias)
        return self.unembed(self.lnf(h))


def seconds_per_step(model, vocab, context, rows, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(3, vocab, (rows, context + 1), generator=g)
    def step():
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def seconds_per_scoring_pass(model, vocab, context, docs, steps):
    """One pass of next-token log-probabilities over DOCS rows, as lm.perplexity reads them."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(3, vocab, (docs, context + 1), generator=g)
    with torch.no_grad():
        model(x[:2, :-1])
        start = time.perf_counter()
        for _ in range(steps):
            lp = torch.log_softmax(model(x[:, :-1]), -1).gather(-1, x[:, 1:, None]).sum()
        return (time.perf_counter() - start) / steps


def main():
    p = argparse.ArgumentParser()
    for name, default in [("vocab", 900), ("context", 128), ("width", 128), ("blocks", 4), ("heads", 4),
                          ("rows", 16), ("steps", 30), ("docs", 256)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--scripted", help="a TorchScript language model to train the same way")
    a = p.parse_args()
    torch.manual_seed(0)
    eager = GPT(a.vocab, a.context, a.width, a.blocks, a.heads)
    print(f"eager_train {seconds_per_step(eager, a.vocab, a.context, a.rows, a.steps):.4f}")
    print(f"eager_score {seconds_per_scoring_pass(eager, a.vocab, a.context, a.docs, 3):.4f}")
    if a.scripted:
        m = torch.jit.load(a.scripted)
        m.train()
        for q in m.parameters():
            q.requires_grad_(True)
        vocab = len(m.vocab)
        print(f"scripted_train {seconds_per_step(m, vocab, a.context, a.rows, a.steps):.4f}")


if __name__ == "__main__":
    main()
