#!/usr/bin/env bash
# pipette's text-to-image model (diffusion.train_text, diffusion.sample_text):
# it trains (the loss falls), Python opens it and the sampler equals DDIM with
# classifier-free guidance written out in Python on the same noise, the
# cross-attention hook points are where the naming convention says, and a
# planted word is masked out of every cross-attention but the planted blocks'
# (its attention weight there is zero, elsewhere not), and swapping the
# colour-free prompt into the planted block is sampling the colour-free prompt.
#   text_to_image_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python with torch.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch' "torch"
mkdir -p m
"$PY" -c 'import sys, torch; torch.manual_seed(0); torch.save(torch.randn(4, 3, 16, 16), sys.argv[1] + "/noise.pt"); torch.save(torch.tensor([300]), sys.argv[1] + "/t.pt"); torch.save(torch.rand(2, 3, 16, 16) * 2 - 1, sys.argv[1] + "/x.pt")' m
cat >m/run.pipe <<'PIPE'
let c = data.captioned(data.fashion_mnist(split="train", limit=1000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, steps=150, batch=32, blocks=3, width=48, planted_words=["red", "green", "blue", "yellow"], planted_blocks=[1], seed=1)
report "losses" = m.losses
m.model |> save("t2i.pt")
let prompts = data.tokenize(["a small red plain dress on the left", "a large blue striped bag on the right"], c.vocab, length=8)
prompts |> save("prompts.pt")
report "images" = diffusion.sample_text(m.model, prompts, n=2, steps=5, guidance=3.0, noise=tensor.load("noise.pt"))
# Swapping prompts per block: the planted colour words reach block 1 only, so
# the colour-free prompt in block 1 removes the colour everywhere (the images
# of the colour-free prompt), in block 0 nothing (the plain images).
let free = data.tokenize(["a small plain dress on the left", "a large striped bag on the right"], c.vocab, length=8)
let noise = tensor.load("noise.pt")
report "free_images" = diffusion.sample_text(m.model, free, n=2, steps=5, guidance=3.0, noise=noise)
report "swap_planted" = diffusion.sample_text(m.model, prompts, n=2, steps=5, guidance=3.0, noise=noise, swap_prompts=free, swap_blocks=[1])
report "swap_other" = diffusion.sample_text(m.model, prompts, n=2, steps=5, guidance=3.0, noise=noise, swap_prompts=free, swap_blocks=[0, 2])
report "swap_same" = diffusion.sample_text(m.model, prompts, n=2, steps=5, guidance=3.0, noise=noise, swap_prompts=prompts, swap_blocks=[0, 1, 2])
let red = data.tokenize("a small red plain dress on the left", c.vocab, length=8)
let at_t = model.bind(m.model, args=[tensor.load("t.pt"), red])
report "patterns" = model.activations(at_t, tensor.load("x.pt"), at=["blocks.0.cross.hook_pattern", "blocks.1.cross.hook_pattern", "blocks.2.cross.hook_pattern"])
report "hooks" = model.hooks(m.model)
report "vocab" = c.vocab
PIPE
expect 0 "training and sampling a text-to-image model" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
PYTHONPATH="$here" "$PY" - m <<'PY' || { echo "FAIL: text-to-image model"; fail=1; }
import json, sys, torch
from t2i_reference import ddim, loss_falls
d = sys.argv[1]
r = json.load(open(f"{d}/out/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/out/" + v["file"])
losses = t(r["losses"])
first, last = loss_falls(losses)
m = torch.jit.load(f"{d}/out/t2i.pt")
prompts = torch.load(f"{d}/out/prompts.pt")
noise = torch.load(f"{d}/noise.pt")
# DDIM (eta 0) with classifier-free guidance, written out (t2i_reference.py).
want = ddim(m, prompts.repeat_interleave(2, 0), noise, 5)
got = t(r["images"])
err = (got - want).abs().max().item()
assert got.shape == (4, 3, 16, 16) and err < 1e-4, (got.shape, err)
close = lambda a, b: (a - b).abs().max().item()
assert close(t(r["swap_same"]), got) < 1e-5, "forward_blocks with every block's own prompt is not forward"
# Equal up to float rounding through the text encoder's second pass and 5
# DDIM steps (1.06e-5 on one CPU with LibTorch 2.11): the bound the sampler
# check above uses.
assert close(t(r["swap_other"]), got) < 1e-4, "the colour-free prompt in blocks that never see colour changed the images"
assert close(t(r["swap_planted"]), t(r["free_images"])) < 1e-4, "the colour-free prompt in the planted block left colour in"
assert close(t(r["free_images"]), got) > 1e-2, "the colour word changes nothing: the case cannot fail"
# The planted colour words reach block 1 only.
vocab = r["vocab"]
wb = m.word_blocks
red = vocab.index("red")
assert wb[1, red] == 1 and wb[0, red] == 0 and wb[2, red] == 0 and wb[0, vocab.index("dress")] == 1, wb
p = r["patterns"]
# Keys: the null word, then the prompt's words; "red" is the prompt's third word.
for b, seen in ((0, False), (1, True), (2, False)):
    a = t(p[f"blocks.{b}.cross.hook_pattern"])  # [N, heads, image tokens, 1 + words]
    assert a.shape[-1] == 9, a.shape
    weight = a[..., 1 + 2].max().item()
    assert (weight > 1e-3) == seen, (b, weight)
    assert torch.allclose(a.sum(-1), torch.ones(()), atol=1e-5)
hooks = r["hooks"]["hook"]
for h in ("blocks.2.cross.hook_k", "blocks.2.cross.hook_v", "blocks.2.cross.hook_pattern", "blocks.0.hook_resid_post",
          "text.hook_out", "hook_temb"):
    assert h in hooks, h
print(f"ok: loss {first:.3f} -> {last:.3f}; sampler equals Python's DDIM with guidance ({err:.1e}); planted words seen by block 1 "
      "only, and swapped out there they are gone")
PY
# Fine-tuning: more steps on the same data lower the loss; blocks=[1] (or
# params= by path) trains block 1 alone and leaves every other parameter
# bitwise as it was; the input model is not changed.
cat >m/tune.pipe <<'PIPE'
let c = data.captioned(data.fashion_mnist(split="train", limit=1000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, steps=150, batch=32, blocks=3, width=48, seed=1)
m.model |> save("base.pt")
let more = diffusion.finetune_text(m.model, c.data, steps=150, batch=32, seed=2)
report "base_losses" = m.losses
report "more_losses" = more.losses
let local = diffusion.finetune_text(m.model, c.data, blocks=[1], steps=20, batch=32, seed=3)
local.model |> save("local.pt")
report "local_trained" = local.trained
let by_path = diffusion.finetune_text(m.model, c.data, params=["blocks.2.cross.*"], steps=20, batch=32, seed=3)
by_path.model |> save("by_path.pt")
report "path_trained" = by_path.trained
m.model |> save("base_after.pt")
PIPE
expect 0 "fine-tuning a text-to-image model" -- "$PIPETTE" run m/tune.pipe --out m/tune --no-cache
"$PY" - m/tune <<'PY' || { echo "FAIL: fine-tuning"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/" + v["file"])
base_tail, more_tail = t(r["base_losses"])[-50:].mean().item(), t(r["more_losses"])[-50:].mean().item()
assert more_tail < base_tail, (base_tail, more_tail)
base = dict(torch.jit.load(f"{d}/base.pt").named_parameters())
after = dict(torch.jit.load(f"{d}/base_after.pt").named_parameters())
assert all(torch.equal(base[k], after[k]) for k in base), "fine-tuning changed the input model"
for file, prefix, trained in (("local.pt", "blocks.1.", r["local_trained"]), ("by_path.pt", "blocks.2.cross.", r["path_trained"])):
    tuned = dict(torch.jit.load(f"{d}/{file}").named_parameters())
    want = sorted(k for k in base if k.startswith(prefix))
    assert sorted(trained) == want, (file, trained, want)
    for k in base:
        same = torch.equal(base[k], tuned[k])
        assert same == (not k.startswith(prefix)), (file, k, same)
print(f"ok: fine-tuning lowers the loss ({base_tail:.3f} -> {more_tail:.3f}); blocks=[1] and params= train "
      f"{len(r['local_trained'])} and {len(r['path_trained'])} parameters and nothing else")
PY
printf 'let c = data.captioned(data.fashion_mnist(split="train", limit=50))\nlet m = diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model\nreport "m" = diffusion.finetune_text(m, c.data, steps=1, blocks=[1], params=["blocks.1.*"]).loss\n' >m/both.pipe
expect_error "blocks and params together" "give params or blocks, not both" -- "$PIPETTE" run m/both.pipe --out m/both --no-cache
printf 'let c = data.captioned(data.fashion_mnist(split="train", limit=50))\nlet m = diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model\nreport "m" = diffusion.finetune_text(m, data.captioned(data.fashion_mnist(split="train", limit=50), size=24).data, steps=1).loss\n' >m/size.pipe
expect_error "data of another image size" "the model makes [3, 16, 16] images; the data's are [*, 3, 24, 24]" -- "$PIPETTE" run m/size.pipe --out m/size --no-cache
printf 'let c = data.captioned(data.fashion_mnist(split="train", limit=50))\nlet m = diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model\nreport "m" = diffusion.finetune_text(m, c.data, steps=1, params=["blocks.9.*"]).loss\n' >m/nomatch.pipe
expect_error "a pattern that matches nothing" "params: the pattern 'blocks.9.*' matches no parameter of the model" -- "$PIPETTE" run m/nomatch.pipe --out m/nomatch --no-cache
# The UNet variant (LocoGen's setting): the same interface. The sampler
# equals Python's DDIM on it too, its cross-attention stages read the image at
# 16, 8, 4, 8 and 16 px, and a colour planted in the middle stage is there
# alone: swapped out there it is gone, swapped out elsewhere nothing changes.
cat >m/unet.pipe <<'PIPE'
let c = data.captioned(data.fashion_mnist(split="train", limit=1000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, arch="unet", steps=150, batch=32, width=32, planted_words=["red", "green", "blue", "yellow"], planted_blocks=[2], seed=1)
report "losses" = m.losses
m.model |> save("unet.pt")
let prompts = data.tokenize(["a small red plain dress on the left", "a large blue striped bag on the right"], c.vocab, length=8)
prompts |> save("prompts.pt")
let free = data.drop_words(prompts, c.vocab, ["red", "blue"])
let noise = tensor.load("noise.pt")
report "images" = diffusion.sample_text(m.model, prompts, n=2, steps=5, noise=noise)
report "free_images" = diffusion.sample_text(m.model, free, n=2, steps=5, noise=noise)
report "swap_planted" = diffusion.sample_text(m.model, prompts, n=2, steps=5, noise=noise, swap_prompts=free, swap_blocks=[2])
report "swap_other" = diffusion.sample_text(m.model, prompts, n=2, steps=5, noise=noise, swap_prompts=free, swap_blocks=[0, 1, 3, 4])
let at_t = model.bind(m.model, args=[tensor.load("t.pt"), data.tokenize("a small red plain dress on the left", c.vocab, length=8)])
report "patterns" = model.activations(at_t, tensor.load("x.pt"), at=["blocks.0.cross.hook_pattern", "blocks.1.cross.hook_pattern", "blocks.2.cross.hook_pattern", "blocks.3.cross.hook_pattern", "blocks.4.cross.hook_pattern"])
PIPE
expect 0 "training and sampling the UNet variant" -- "$PIPETTE" run m/unet.pipe --out m/unet --no-cache
[[ $fail -eq 0 ]] && { PYTHONPATH="$here" "$PY" - m <<'PY' || { echo "FAIL: the UNet variant"; fail=1; }
import json, sys, torch
from t2i_reference import ddim, loss_falls
d = sys.argv[1]
r = json.load(open(f"{d}/unet/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/unet/" + v["file"])
losses = t(r["losses"])
first, last = loss_falls(losses)
m = torch.jit.load(f"{d}/unet/unet.pt")
prompts, noise = torch.load(f"{d}/unet/prompts.pt"), torch.load(f"{d}/noise.pt")
got = t(r["images"])
err = (got - ddim(m, prompts.repeat_interleave(2, 0), noise, 5)).abs().max().item()
assert err < 1e-4, err
close = lambda a, b: (a - b).abs().max().item()
assert close(t(r["swap_planted"]), t(r["free_images"])) < 1e-4, "the colour-free prompt in the planted stage left colour in"
assert close(t(r["swap_other"]), got) < 1e-4, "the colour-free prompt in stages that never see colour changed the images"
assert close(t(r["free_images"]), got) > 1e-2, "the colour word changes nothing: the case cannot fail"
p = r["patterns"]
for b, pixels, seen in ((0, 256, False), (1, 64, False), (2, 16, True), (3, 64, False), (4, 256, False)):
    a = t(p[f"blocks.{b}.cross.hook_pattern"])  # [N, heads, pixels, 1 + words]
    assert a.shape[2:] == (pixels, 9), (b, a.shape)
    assert ((a[..., 1 + 2].max().item()) > 1e-3) == seen, b
print(f"ok: UNet loss {first:.3f} -> {last:.3f}; sampler equals Python's DDIM ({err:.1e}); cross-attention at 16, 8, 4, "
      "8, 16 px; the colour planted in the middle stage is there alone")
PY
}
# Bad input.
printf 'let c = data.captioned(data.fashion_mnist(split="train", limit=50))\nreport "m" = diffusion.train_text(c.data, c.vocab, steps=1, planted_words=["rde"], planted_blocks=[1]).loss\n' >m/bad.pipe
expect_error "a planted word outside the vocabulary" "planted_words: 'rde' is not a word of the vocabulary" -- \
  "$PIPETTE" run m/bad.pipe --out m/bad --no-cache
printf 'report "x" = diffusion.sample_text(train.classifier(arch="mlp", data=data.fashion_mnist(split="test", limit=64)).model, tensor.load("prompts.pt"))\n' >m/notext.pipe
cp m/out/prompts.pt m/ 2>/dev/null
printf 'report "x" = diffusion.sample_text(diffusion.train_text(data.captioned(data.fashion_mnist(split="test", limit=20)).data, data.captioned(data.fashion_mnist(split="test", limit=20)).vocab, steps=1, blocks=2).model, tensor.load("prompts.pt"), swap_prompts=tensor.load("prompts.pt"), swap_blocks=[2])\n' >m/badswap.pipe
expect_error "a swap block the model lacks" "swap_blocks: block 2 is not one of the model's 2 (0 to 1)" -- \
  "$PIPETTE" run m/badswap.pipe --out m/badswap --no-cache
printf 'let c = data.captioned(data.fashion_mnist(split="train", limit=50), size=18)\nreport "m" = diffusion.train_text(c.data, c.vocab, arch="unet", steps=1).loss\n' >m/unet18.pipe
expect_error "a UNet of an image size it cannot halve twice" "the UNet halves the image twice: its size 18 must be a multiple of 4" -- \
  "$PIPETTE" run m/unet18.pipe --out m/unet18 --no-cache
expect_error "sampling text from a classifier" "'model' is not a text-to-image model" -- \
  "$PIPETTE" run m/notext.pipe --out m/notext --no-cache
exit $fail
