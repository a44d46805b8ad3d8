"""DDIM (eta 0) with classifier-free guidance written out in Python, as
diffusion.sample_text samples a text-to-image model: the ladder of `steps`
timesteps over T, both branches in one batch (padding-only captions first),
x0 clamped to [-1, 1], images mapped to [0, 1]. The reference the tests hold
pipette's sampler to; and the check that training lowered the loss."""
import torch


def ddim(m, tokens, noise, steps, guidance=3.0):
    abar = m.alphas_cumprod.double()
    T = int(m.timesteps)
    ladder = sorted({round((i + 1) * (T - 1) / steps) for i in range(steps)})
    x = noise.clone()
    with torch.no_grad():
        for i in reversed(range(len(ladder))):
            a_t = abar[ladder[i]].item()
            a_prev = abar[ladder[i - 1]].item() if i > 0 else 1.0
            ts = torch.full((2 * x.shape[0],), float(ladder[i]))
            eps = m(torch.cat([x, x]), ts, torch.cat([torch.zeros_like(tokens), tokens]))
            u, c = eps[: x.shape[0]], eps[x.shape[0]:]
            eps = u + guidance * (c - u)
            x0 = ((x - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5).clamp(-1, 1)
            eps = (x - a_t ** 0.5 * x0) / (1 - a_t) ** 0.5
            x = a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return ((x + 1) / 2).clamp(0, 1)


def loss_falls(losses):
    """The mean loss of the first and last 15 steps; the last must be under 70 %
    of the first."""
    first, last = losses[:15].mean().item(), losses[-15:].mean().item()
    assert last < 0.7 * first, f"the loss did not fall: {first:.3f} -> {last:.3f}"
    return first, last
