#!/usr/bin/env bash
# The localize plugin on a model whose colour words are planted in block 1 (of
# 3). localize.locogen must find block 1, and exactly: a window without block 1
# gives the unchanged prompts' images (its blocks never read the colour), the
# window with it the colour-free prompt's images (no block reads it any more);
# a colour probe trained on the real captioned images scores them.
# localize.contributions must find it too: without the output projection's
# bias the other blocks' contributions are exactly 0, with it exactly the
# bias's norm (what the reference code's score is for a block that ignores the
# phrase), checked against the saved model's parameters in Python.
# localize.loco_edit must equal its objective solved in Python and change
# nothing but the edited projections; localize.neurons must pick the channels
# Welch's t picks in Python and make them constant.
#   localize_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python with torch.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch' "torch"
mkdir -p m
"$PY" -c 'import sys, torch; torch.manual_seed(3); torch.save(torch.randn(8, 3, 16, 16), sys.argv[1] + "/noise.pt"); torch.save(torch.tensor([0, 2]), sys.argv[1] + "/targets.pt")' m
cat >m/run.pipe <<'PIPE'
plugin "localize"
let c = data.captioned(data.fashion_mnist(split="train", limit=2000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, steps=150, batch=32, blocks=3, width=48, planted_words=["red", "green", "blue", "yellow"], planted_blocks=[1], seed=1)
let probe = train.classifier(arch="mlp", data=data.from_tensors({images: c.data.images, labels: c.data.colour}), epochs=1, seed=1)
report "probe_accuracy" = probe.accuracy
let prompts = data.tokenize(["a large red plain dress on the left", "a large blue plain dress on the left"], c.vocab, length=8)
let free = data.tokenize(["a large plain dress on the left", "a large plain dress on the left"], c.vocab)
let noise = tensor.load("noise.pt")
let sweep = localize.locogen(m.model, prompts, free, probe.model, [0, 2], window=1, n=4, steps=10, noise=noise)
report "windows" = sweep.windows
report "located" = sweep.located
report "baseline" = sweep.baseline
report "images" = sweep.images
report "plain" = diffusion.sample_text(m.model, prompts, n=4, steps=10, noise=noise)
report "colour_free" = diffusion.sample_text(m.model, free, n=4, steps=10, noise=noise)
let iv = localize.intervene(m.model, prompts, free, [1], n=4, steps=10, noise=noise)
report "iv_images" = iv.images
report "iv_original" = iv.original
let iv_other = localize.intervene(m.model, prompts, free, [0, 2], n=4, steps=10, noise=noise)
report "iv_other" = iv_other.images
let raw = localize.contributions(m.model, prompts, c.vocab, ["red", "blue"], k=1, bias=false, n=2, steps=5)
let biased = localize.contributions(m.model, prompts, c.vocab, ["red", "blue"], k=1, n=2, steps=5)
report "raw" = raw.matrix
report "raw_located" = raw.located
report "biased" = biased.blocks
report "top2" = localize.top_blocks(raw.matrix, k=2)
m.model |> save("t2i.pt")
let edit = localize.loco_edit(m.model, prompts, free, [1], lambda=0.01)
edit.model |> save("edited.pt")
report "edit_before" = edit.before
report "edit_after" = edit.after
localize.loco_edit(m.model, prompts, free, [1], tokens="all").model |> save("edited_all.pt")
localize.loco_edit(m.model, prompts, free, [0]).model |> save("edited_hiding.pt")
prompts |> save("prompts.pt")
free |> save("free.pt")
let red = data.tokenize(["a large red plain dress on the left", "a small red striped bag on the right", "a large red checked coat on the left"], c.vocab, length=8)
let neutral = data.tokenize(["a large plain dress on the left", "a small striped bag on the right", "a large checked coat on the left"], c.vocab, length=8)
let neurons = localize.neurons(m.model, red, neutral, [1], k=3)
neurons.model |> save("neurons.pt")
report "neurons" = neurons.neurons
red |> save("red.pt")
let kept = localize.loco_edit(m.model, prompts, free, [1], tokens="all", keep=neutral)
kept.model |> save("edited_keep.pt")
report "kept" = kept.kept
neutral |> save("neutral.pt")
PIPE
expect 0 "the window sweep on a planted model" -- "$PIPETTE" run m/run.pipe --out m/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - m/out <<'PY' || { echo "FAIL: locogen"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))["reports"]
t = lambda v: torch.load(f"{d}/" + v["file"])
assert r["probe_accuracy"] > 0.95, r["probe_accuracy"]
images = t(r["images"]).view(4, 8, 3, 16, 16)  # unchanged, then windows 0, 1, 2
plain, free = t(r["plain"]), t(r["colour_free"])
gap = lambda a, b: (a - b).abs().max().item()
assert gap(images[0], plain) < 1e-5, gap(images[0], plain)
assert gap(images[1], plain) < 1e-5 and gap(images[3], plain) < 1e-5, "a window without the planted block changed the images"
assert gap(images[2], free) < 1e-4, gap(images[2], free)
assert gap(plain, free) > 1e-2, "the colour word changes nothing: the case cannot fail"
# localize.intervene: the planted block reading the colour-free prompt is the
# colour-free prompt; the other blocks reading it changes nothing.
assert gap(t(r["iv_images"]), free) < 1e-4 and gap(t(r["iv_original"]), plain) < 1e-5, "intervene"
assert gap(t(r["iv_other"]), plain) < 1e-5, "intervening on blocks that never read the colour changed the images"
w = r["windows"]
assert w["blocks"] == ["0", "1", "2"], w
assert abs(w["drop"][0]) < 1e-6 and abs(w["drop"][2]) < 1e-6, w["drop"]
assert r["located"] == [1], (r["located"], w)
raw = t(r["raw"])
assert raw.shape == (3, 5), raw.shape
assert raw[0].abs().max() == 0 and raw[2].abs().max() == 0 and raw[1].min() > 0, raw
assert r["raw_located"] == [1] and r["top2"][0] == 1, (r["raw_located"], r["top2"])
model = torch.jit.load(f"{d}/t2i.pt")
biased = t(r["biased"])
for b in (0, 2):
    bias_norm = getattr(model.blocks, str(b)).cross.o_bias.norm().item()
    assert abs(biased[b].item() - bias_norm) < 1e-5, (b, biased[b].item(), bias_norm)
# LocoEdit: block 1's key and value projections are the solution of the
# objective solved here in float64 from the model's own text encodings; every
# other parameter is bitwise the original's.
edited = torch.jit.load(f"{d}/edited.pt")
P, F = torch.load(f"{d}/prompts.pt"), torch.load(f"{d}/free.pt")
def encode(tokens, b):
    tb = tokens * model.word_blocks[b][tokens].long()
    with torch.no_grad():
        return tb, model.text(tb).double()
def last_word(tokens, b):
    tb, text = encode(tokens, b)
    # the last word the block reads: block 0 reads the colour as padding in
    # the middle of the prompt, so the number of words is not its place
    last = torch.tensor([max(j for j in range(tb.shape[1]) if tb[i, j] != 0) + 1 for i in range(len(tb))])
    return text[torch.arange(len(tb)), last]
def every_word(tokens, free, b):
    # each word the block reads (and the null word) paired with the same word
    # of the colour-free prompt; the colour, absent there, with its last word
    tp, ep = encode(tokens, b)
    tf, ef = encode(free, b)
    xs, ys = [], []
    for i in range(len(tp)):
        fw = [j + 1 for j in range(tf.shape[1]) if tf[i, j] != 0]
        xs.append(ep[i, 0]); ys.append(ef[i, 0])
        k = 0
        for j in range(tp.shape[1]):
            if tp[i, j] == 0:
                continue
            xs.append(ep[i, j + 1])
            if k < len(fw) and tp[i, j] == tf[i, fw[k] - 1]:
                ys.append(ef[i, fw[k]]); k += 1
            else:
                ys.append(ef[i, fw[-1]])
    return torch.stack(xs), torch.stack(ys)
def check_edit(edited, b, x, y, what, changes=True):
    cross, new = getattr(model.blocks, str(b)).cross, getattr(edited.blocks, str(b)).cross
    for name in ("k_weight", "v_weight"):
        W = getattr(cross, name).detach().double()
        lam = 0.01
        eye = torch.eye(W.shape[1], dtype=torch.float64)
        want = torch.linalg.solve(x.T @ x + lam * eye, (x.T @ y + lam * eye) @ W.T).T
        got = getattr(new, name).detach().double()
        err = ((got - want).abs().max() / want.abs().max()).item()
        assert err < 1e-5, (what, name, err)
        if changes:
            assert not torch.equal(got.float(), getattr(cross, name).float()), f"{what}: {name} did not change"
    orig = dict(model.named_parameters())
    for k, v in edited.named_parameters():
        if k not in (f"blocks.{b}.cross.k_weight", f"blocks.{b}.cross.v_weight"):
            assert torch.equal(v, orig[k]), f"{what}: {k} changed, though only block {b}'s K and V were edited"
check_edit(edited, 1, last_word(P, 1), last_word(F, 1), "LocoEdit")
xa, ya = every_word(P, F, 1)
assert xa.shape[0] == 2 * 9, xa.shape  # the null word and 8 words of each prompt
check_edit(torch.jit.load(f"{d}/edited_all.pt"), 1, xa, ya, "LocoEdit of every word")
# keep=: every encoding block 1 reads of the kept prompts is a row with x = y
def read_words(tokens, b):
    tb, text = encode(tokens, b)
    read = torch.cat([torch.ones(len(tb), 1, dtype=torch.bool), tb != 0], 1)
    return text[read]
z = read_words(torch.load(f"{d}/neutral.pt"), 1)
check_edit(torch.jit.load(f"{d}/edited_keep.pt"), 1, torch.cat([xa, z]), torch.cat([ya, z]), "LocoEdit keeping prompts")
assert 0 < r["kept"] < 0.05, r["kept"]
# Block 0 never reads the colour: prompt and colour-free prompt encode alike
# there (x = y), so the edit is the identity up to rounding (bitwise W on some
# CPUs): it must equal the solve, and need not move.
check_edit(torch.jit.load(f"{d}/edited_hiding.pt"), 0, last_word(P, 0), last_word(F, 0), "LocoEdit of a block that hides the colour", changes=False)
orig = dict(model.named_parameters())
cross = getattr(model.blocks, "1").cross
assert r["edit_after"] < 0.5 * r["edit_before"], (r["edit_before"], r["edit_after"])
# The neuron variant: the top 3 channels of block 1's K and V by |Welch's t|
# (sample variances) between the red and the neutral prompts, recomputed here,
# now output their neutral mean whatever the input.
nm = torch.jit.load(f"{d}/neurons.pt")
R, N = torch.load(f"{d}/red.pt"), torch.load(f"{d}/neutral.pt")
rows = r["neurons"]
xr, xn = last_word(R, 1), last_word(N, 1)
for proj in ("k", "v"):
    W, B = getattr(cross, proj + "_weight").detach().double(), getattr(cross, proj + "_bias").detach().double()
    ar, an = xr @ W.T + B, xn @ W.T + B
    t_stat = (ar.mean(0) - an.mean(0)) / (ar.var(0) / len(ar) + an.var(0) / len(an)).sqrt()
    want = set(t_stat.abs().topk(3).indices.tolist())
    got = {c for c, p in zip(rows["channel"], rows["projection"]) if p == proj}
    assert got == want, (proj, got, want)
    nw = getattr(getattr(nm.blocks, "1").cross, proj + "_weight").detach()
    nb = getattr(getattr(nm.blocks, "1").cross, proj + "_bias").detach().double()
    for ch in want:
        assert nw[ch].abs().max() == 0 and abs(nb[ch].item() - an[:, ch].mean().item()) < 1e-5, (proj, ch)
changed = {f"blocks.1.cross.{p}_{w}" for p in ("k", "v") for w in ("weight", "bias")}
for k, v in nm.named_parameters():
    if k not in changed:
        assert torch.equal(v, orig[k]), f"{k} changed"
print(f"ok: neurons by Welch's t equal Python's ({len(rows['channel'])} set to their neutral mean); nothing else changed")
print(f"ok: LocoEdit (last word, every word, keeping prompts, a block that hides the colour) equals the objective solved in Python; |Wx - Wy| {r['edit_before']:.3f} -> {r['edit_after']:.3f}; nothing else changed")
print(f"ok: contributions {[round(x, 4) for x in raw.mean(1).tolist()]} locate block 1; with the bias the others score its norm")
print(f"ok: located block {r['located']} (drops {[round(x, 4) for x in w['drop']]}); other windows leave the images as they were, "
      f"the planted one gives the colour-free prompt's; colour probe {r['probe_accuracy']:.2f} on real images")
PY
# The UNet variant (LocoGen's own setting): the same ops find the colour
# planted in its middle cross-attention stage and edit it.
cat >m/unet.pipe <<'PIPE'
plugin "localize"
let c = data.captioned(data.fashion_mnist(split="train", limit=2000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, arch="unet", steps=150, batch=32, width=32, planted_words=["red", "green", "blue", "yellow"], planted_blocks=[2], seed=1)
let probe = train.classifier(arch="mlp", data=data.from_tensors({images: c.data.images, labels: c.data.colour}), epochs=1, seed=1)
let prompts = data.tokenize(["a large red plain dress on the left", "a large blue plain dress on the left"], c.vocab, length=8)
let free = data.drop_words(prompts, c.vocab, ["red", "blue"])
let sweep = localize.locogen(m.model, prompts, free, probe.model, [0, 2], window=1, n=4, steps=10, noise=tensor.load("noise.pt"))
report "drops" = sweep.windows.drop
report "located" = sweep.located
let raw = localize.contributions(m.model, prompts, c.vocab, ["red", "blue"], k=1, bias=false, n=2, steps=5)
report "raw" = raw.matrix
report "raw_located" = raw.located
let edit = localize.loco_edit(m.model, prompts, free, [2], tokens="all")
report "edit" = {before: edit.before, after: edit.after}
PIPE
expect 0 "localizing in the UNet variant" -- "$PIPETTE" run m/unet.pipe --out m/unet --no-cache
[[ $fail -eq 0 ]] && { "$PY" - m/unet <<'PY' || { echo "FAIL: localize on the UNet"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))["reports"]
raw = torch.load(f"{d}/" + r["raw"]["file"])
assert r["located"] == [2] and r["raw_located"] == [2], (r["located"], r["raw_located"])
drops = r["drops"]
assert all(abs(x) < 1e-6 for i, x in enumerate(drops) if i != 2) and drops[2] != 0, drops
assert raw.shape == (5, 5) and raw[[0, 1, 3, 4]].abs().max() == 0 and raw[2].min() > 0, raw
assert r["edit"]["after"] < 0.5 * r["edit"]["before"], r["edit"]
print(f"ok: on the UNet, LocoGen and contributions locate the middle stage (drops {[round(x, 4) for x in drops]}); "
      f"LocoEdit there: residual {r['edit']['before']:.3f} -> {r['edit']['after']:.3f}")
PY
}
# The example compiles.
expect 0 "examples/localize_knowledge.pipe compiles" -- "$PIPETTE" check "$here/../../../examples/localize_knowledge.pipe"
# The docs' example compiles.
awk '/^```pipe$/{on=1; next} /^```$/{on=0} on' "$here/../../../docs/plugins/localize.md" >m/docs.pipe
[[ -s m/docs.pipe ]] || { echo "FAIL: no pipe example in docs/plugins/localize.md"; fail=1; }
expect 0 "the docs' example compiles" -- "$PIPETTE" check m/docs.pipe
bad() { printf 'plugin "localize"\nlet c = data.captioned(data.fashion_mnist(split="train", limit=50))\n%s\n' "$2" >m/bad.pipe
        expect_error "$1" "$3" -- "$PIPETTE" run m/bad.pipe --out m/bad --no-cache
        grep -qF "m/bad.pipe:3:" "$tmp/err" || { echo "FAIL: $1: no script line"; cat "$tmp/err"; fail=1; }; }
bad "a window longer than the model" \
  'report "l" = localize.locogen(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), data.tokenize("a dress", c.vocab), train.classifier(arch="mlp", data=data.fashion_mnist(split="test", limit=64)).model, 0, window=3).located' \
  "window 3 is longer than the model's 2 blocks"
bad "a model without per-block cross-attention" \
  'report "l" = localize.locogen(diffusion.train(c.data.images, size=16, steps=1, width=8).model, data.tokenize("a red dress", c.vocab), data.tokenize("a dress", c.vocab), train.classifier(arch="mlp", data=data.fashion_mnist(split="test", limit=64)).model, 0).located' \
  "'model' is not a text-to-image model with per-block cross-attention"
bad "a phrase the prompts lack" \
  'report "l" = localize.contributions(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a large dress", c.vocab), c.vocab, "red").located' \
  "prompt 0 holds none of the phrase's words"
bad "a phrase word outside the vocabulary" \
  'report "l" = localize.contributions(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), c.vocab, "crimson").located' \
  "phrase: 'crimson' is not a word of the vocabulary"
bad "neurons from one prompt" \
  'report "l" = localize.neurons(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), data.tokenize(["a dress", "a bag"], c.vocab), [1]).neurons' \
  "Welch's t needs at least 2 prompts on each side; found 1 and 2"
bad "LocoEdit with lambda 0" \
  'report "l" = localize.loco_edit(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), data.tokenize("a dress", c.vocab), [1], lambda=0.0).after' \
  "lambda must be positive (the paper: 0.01), found 0"
bad "LocoEdit of every word with free prompts that are not the prompts less words" \
  'report "l" = localize.loco_edit(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), data.tokenize("a bag", c.vocab), [1], tokens="all").after' \
  'tokens="all": free prompt 0 is neither prompt 0 with words removed nor the same number of words'
bad "LocoEdit of a block the model lacks" \
  'report "l" = localize.loco_edit(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize("a red dress", c.vocab), data.tokenize("a dress", c.vocab), [5]).after' \
  "blocks: block 5 is not one of the model's 2 (0 to 1)"
bad "free prompts that do not pair with the prompts" \
  'report "l" = localize.locogen(diffusion.train_text(c.data, c.vocab, steps=1, blocks=2).model, data.tokenize(["a red dress", "a blue bag"], c.vocab), data.tokenize("a dress", c.vocab), train.classifier(arch="mlp", data=data.fashion_mnist(split="test", limit=64)).model, 0, window=1).located' \
  "2 prompts but 1 in free_prompts: one per prompt"
exit $fail
