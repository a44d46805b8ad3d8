"""The DiT of diffusion.train_text written out in eager PyTorch, as a peer for
pipette's sampler: the same weights (read from the TorchScript file), checked
against the scripted forward, then DDIM with classifier-free guidance timed on
the same number of images and steps.
    eager_dit.py MODEL.pt TOKENS.pt IMAGES_PER_PROMPT STEPS THREADS REPEATS
Prints one JSON line: {"forward_gap": ..., "seconds": best of REPEATS}."""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def attention(q, k, v, bias, heads):
    n, width = q.shape[0], q.shape[-1]
    dh = width // heads
    split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, dh).transpose(1, 2)
    a = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(dh) + bias, -1)
    return (a @ split(v)).transpose(1, 2).reshape(n, q.shape[1], width)


class EagerDiT:
    def __init__(self, m):
        self.p = {k: v.detach() for k, v in m.named_parameters()}
        self.word_blocks = m.word_blocks
        self.freqs = m.time_freqs
        self.heads = int(m.heads)
        self.patch = int(m.patch_size)
        self.size = int(m.image_size)
        self.channels = int(m.image_channels)
        self.blocks = self.word_blocks.shape[0]
        self.width = self.p["pos"].shape[-1]

    def lin(self, x, name):
        return F.linear(x, self.p[name + "_weight"], self.p[name + "_bias"])

    def norm(self, x, name=None):
        d = self.width
        if name is None:
            return F.layer_norm(x, [d])
        return F.layer_norm(x, [d], self.p[name + "_weight"], self.p[name + "_bias"])

    def key_bias(self, tokens):
        visible = torch.cat([torch.ones(tokens.shape[0], 1), (tokens != 0).float()], 1)
        return ((1.0 - visible) * -10000.0)[:, None, None, :]

    def text(self, tokens):
        p, d = self.p, self.width
        e = torch.cat([p["text.null"].expand(tokens.shape[0], 1, d), F.embedding(tokens, p["text.embed"])], 1)
        x = self.norm(e, "text.ln1")
        q, k, v = self.lin(x, "text.qkv").split(d, -1)
        e = e + self.lin(attention(q, k, v, self.key_bias(tokens), self.heads), "text.proj")
        e = e + self.lin(F.gelu(self.lin(self.norm(e, "text.ln2"), "text.fc1")), "text.fc2")
        return self.norm(e, "text.lno")

    def block(self, i, h, c, text, bias):
        b, d = f"blocks.{i}.", self.width
        s1, c1, g1, s2, c2, g2 = self.lin(F.silu(c), b + "mod").unsqueeze(1).split(d, -1)
        x = self.norm(h) * (1 + c1) + s1
        q, k, v = self.lin(x, b + "qkv").split(d, -1)
        h = h + g1 * self.lin(attention(q, k, v, torch.zeros(1, 1, 1, 1), self.heads), b + "proj")
        x = self.norm(h, b + "ln2")
        cr = b + "cross."
        z = attention(self.lin(x, cr + "q"), self.lin(text, cr + "k"), self.lin(text, cr + "v"), bias, self.heads)
        h = h + self.lin(z, cr + "o")
        x = self.norm(h) * (1 + c2) + s2
        return h + g2 * self.lin(F.gelu(self.lin(x, b + "fc1")), b + "fc2")

    def forward(self, x, t, tokens):
        p, n, g = self.p, x.shape[0], self.size // self.patch
        e = t.float()[:, None] * self.freqs[None]
        e = torch.cat([torch.sin(e), torch.cos(e)], 1)
        c = self.lin(F.silu(self.lin(e, "t1")), "t2")
        h = F.conv2d(x, p["patch_weight"], p["patch_bias"], stride=self.patch).flatten(2).transpose(1, 2) + p["pos"]
        texts = {}
        for i in range(self.blocks):
            seen = self.word_blocks[i]
            key = tuple(seen.tolist())
            if key not in texts:  # one encoding per distinct set of readable words
                tb = tokens * seen[tokens].long()
                texts[key] = (self.text(tb), self.key_bias(tb))
            h = self.block(i, h, c, *texts[key])
        shift, scale = self.lin(F.silu(c), "final_mod").unsqueeze(1).split(self.width, -1)
        h = self.lin(self.norm(h) * (1 + scale) + shift, "out")
        h = h.view(n, g, g, self.patch, self.patch, self.channels).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(n, self.channels, self.size, self.size)


def ddim(f, tokens, noise, abar, steps, guidance=3.0):
    # DDIM (eta 0) with classifier-free guidance over diffusion.sample_text's ladder.
    T = abar.shape[0]
    ladder = sorted({round((i + 1) * (T - 1) / steps) for i in range(steps)})
    x = noise.clone()
    both = torch.cat([torch.zeros_like(tokens), tokens])
    for i in reversed(range(len(ladder))):
        a_t = abar[ladder[i]].item()
        a_prev = abar[ladder[i - 1]].item() if i > 0 else 1.0
        eps = f(torch.cat([x, x]), torch.full((2 * x.shape[0],), float(ladder[i])), both)
        u, c = eps.chunk(2)
        eps = u + guidance * (c - u)
        x0 = ((x - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5).clamp(-1, 1)
        eps = (x - a_t ** 0.5 * x0) / (1 - a_t) ** 0.5
        x = a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return ((x + 1) / 2).clamp(0, 1)


def main():
    path, tokens_path, per, steps, threads, repeats = sys.argv[1:7]
    torch.set_num_threads(int(threads))
    m = torch.jit.load(path)
    eager = EagerDiT(m)
    prompts = torch.load(tokens_path)
    tokens = prompts.repeat_interleave(int(per), 0)
    torch.manual_seed(0)
    noise = torch.randn(tokens.shape[0], eager.channels, eager.size, eager.size)
    with torch.no_grad():
        t = torch.randint(0, 1000, (tokens.shape[0],))
        gap = (eager.forward(noise, t, tokens) - m(noise, t, tokens)).abs().max().item()
        abar = m.alphas_cumprod.double()
        best = float("inf")
        for _ in range(int(repeats)):
            start = time.perf_counter()
            ddim(eager.forward, tokens, noise, abar, int(steps))
            best = min(best, time.perf_counter() - start)
    print(json.dumps({"forward_gap": gap, "seconds": best}))


if __name__ == "__main__":
    main()
