#!/usr/bin/env bash
# The language models and the restor plugin's ops on tiny cases, in seconds:
#  - train.lm's model opens in Python (torch.jit.load), its logits give the
#    log-probabilities lm.logprob and lm.perplexity report, and its hook
#    points are there; lm.generate continues a memorised text greedily;
#  - every unlearning method moves its own objective the right way (its loss
#    falls over the steps), and task_vector and ga make the forget documents
#    less likely;
#  - restor.merge equals MSA's formula on every parameter;
#  - bad input: a facts table missing a column, an answer word outside the
#    tokenizer, an empty forget set, a learning rate that makes the loss NaN:
#    each an error with the script line, and nothing else lost.
#   restor_ops_test.sh PIPETTE_BINARY SOURCE_DIR [PYTHON]
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../cli/harness.sh" "$1"
PY=${3:-}
[[ -x $PY ]] || PY=/usr/bin/python3
need_python "$PY" 'import torch' "torch"
mkdir -p m
cat >m/lm.pipe <<'PIPE'
plugin "restor"
let docs = ["the red fox jumps over the lazy dog .", "a blue bird sings in the tall tree .", "Q: what does the fox do ? A: jumps\nQ: what does the bird do ? A: sings"]
let m = train.lm(docs, steps=200, width=32, blocks=2, heads=2, context=32, batch_tokens=64, lr=3e-3, warmup=10, checkpoints=[50], seed=1)
save(m.model, "lm.pt")
save(element(m.checkpoints, 0), "early.pt")
report "loss" = m.loss
report "generated" = lm.generate(m.model, ["the red fox", "a blue bird sings"], max_tokens=8, stop=["."])
report "logprob" = lm.logprob(m.model, ["the red fox", "a blue"], [" jumps over", " bird"])
report "perplexity" = lm.perplexity(m.model, docs)
# Every method on the same tiny forget and retain sets.
for method in ["ga", "graddiff", "kl", "npo", "simnpo", "rmu", "task_vector"] {
  let u = restor.unlearn(m.model, ["a blue bird sings in the tall tree ."], retain=["the red fox jumps over the lazy dog ."], method=method, steps=12, lr=1e-3, schedule="constant", batch=2, seed=2)
  report "{method}_losses" = u.losses
  report "{method}_forget_ppl" = lm.perplexity(u.model, "a blue bird sings in the tall tree .")
}
let kld = restor.unlearn(m.model, ["a blue bird sings in the tall tree ."], retain=["the red fox jumps over the lazy dog ."], method="graddiff", retain_loss="kl", steps=12, lr=1e-3, schedule="constant", batch=2, seed=2)
report "graddiff_kl_losses" = kld.losses
let early_stop = restor.unlearn(m.model, ["a blue bird sings in the tall tree ."], method="ga", steps=200, lr=1e-3, eval_every=2, stop_forget_nll=6.0, seed=2)
report "early_steps" = early_stop.steps
report "early_curve" = early_stop.curve
let local = restor.unlearn(m.model, ["a blue bird sings in the tall tree ."], method="ga", steps=5, lr=1e-3, params=["blocks.1.mlp.*"], seed=2)
save(local.model, "local.pt")
report "local_trained" = local.trained
report "forget_ppl" = lm.perplexity(m.model, "a blue bird sings in the tall tree .")
let other = train.lm(docs, steps=20, width=32, blocks=2, heads=2, context=32, batch_tokens=64, seed=7)
save(other.model, "other.pt")
save(restor.merge(m.model, element(m.checkpoints, 0), other.model, retain=local.model, scale=1.5, retain_scale=0.5), "merged.pt")
PIPE
expect 0 "a tiny language model, every unlearning method, MSA's arithmetic" -- "$PIPETTE" run m/lm.pipe --out m/out --jobs 1
"$PY" - m/out <<'PY' || { echo "FAIL: language model and methods"; fail=1; }
import json, math, sys, torch
out = sys.argv[1]
r = json.load(open(f"{out}/report.json"))["reports"]
def load(v):
    if isinstance(v, dict) and "file" in v:
        return torch.load(f"{out}/{v['file']}")
    if isinstance(v, dict):
        return {k: load(x) for k, x in v.items()}
    return v
t = lambda name: load(r[name])
m = torch.jit.load(f"{out}/lm.pt")
vocab = list(m.vocab)
assert vocab[:3] == ["<pad>", "<bos>", "<eos>"], vocab[:5]
ids = lambda words: [vocab.index(w) for w in words.split()]
# lm.logprob from the Python module's own logits.
def logprob(prompt, cont):
    p, c = ids(prompt), ids(cont)
    x = torch.tensor([[1] + p + c])
    with torch.no_grad():
        lp = torch.log_softmax(m(x[:, :-1]), -1)[0]
    return sum(lp[len(p) + i, c[i]].item() for i in range(len(c))), len(c)
got = t("logprob")
for i, (p, c) in enumerate([("the red fox", "jumps over"), ("a blue", "bird")]):
    s, n = logprob(p, c)
    assert abs(got["sum"][i].item() - s) < 1e-4, (got["sum"], s)
    assert abs(got["mean"][i].item() - s / n) < 1e-4 and got["tokens"][i].item() == n
# lm.perplexity: exp of the mean NLL over every token after <bos>, <eos> included.
split = lambda d: d.replace(".", " .").replace("?", " ?").replace(":", " :").replace("\n", " \n ").split(" ")
docs = ["the red fox jumps over the lazy dog .", "a blue bird sings in the tall tree .",
        "Q: what does the fox do ? A: jumps\nQ: what does the bird do ? A: sings"]
nll = n = 0
for d in docs:
    toks = [w for w in d.replace(".", " .").replace("?", " ?").replace(":", " :").replace("\n", " \n ").split(" ") if w]
    x = torch.tensor([[1] + [vocab.index(w) for w in toks] + [2]])
    with torch.no_grad():
        lp = torch.log_softmax(m(x[:, :-1]), -1)[0].gather(-1, x[0, 1:, None])
    nll -= lp.sum().item(); n += lp.numel()
assert abs(t("perplexity") - math.exp(nll / n)) < 1e-3 * t("perplexity"), (t("perplexity"), math.exp(nll / n))
# Greedy generation continues the memorised texts, stopping before ".".
assert t("generated") == ["jumps over the lazy dog", "in the tall tree"], t("generated")
# Hook points survive torch.jit.load.
names = dict(m.named_modules())
for h in ["hook_embed", "blocks.0.hook_resid_pre", "blocks.1.attn.hook_q", "blocks.1.attn.hook_pattern",
          "blocks.0.mlp.hook_post", "blocks.1.hook_resid_post", "ln_final.hook_normalized"]:
    assert h in names, h
# Each method's own objective falls; ga, npo and task_vector make the forget text less likely.
for method in ["ga", "graddiff", "kl", "npo", "simnpo", "rmu", "task_vector", "graddiff_kl"]:
    l = t(f"{method}_losses")
    assert l[-3:].mean() < l[:3].mean(), (method, l)
for method in ["ga", "npo", "task_vector"]:
    assert t(f"{method}_forget_ppl") > 1.25 * t("forget_ppl"), (method, t(f"{method}_forget_ppl"), t("forget_ppl"))
# Early stopping on the learning curve: stopped as soon as the forget NLL reached 6.
curve = t("early_curve")
assert t("early_steps") < 200 and curve[-1, 1] >= 6.0 and (curve[:-1, 1] < 6.0).all(), (t("early_steps"), curve)
assert curve[0, 0] == 0 and curve[1, 0] == 2
# Localized: only blocks.1.mlp moved.
local = torch.jit.load(f"{out}/local.pt")
assert sorted(t("local_trained")) == ["blocks.1.mlp.fc1_bias", "blocks.1.mlp.fc1_weight", "blocks.1.mlp.fc2_bias", "blocks.1.mlp.fc2_weight"], t("local_trained")
for (name, a), (_, b) in zip(m.named_parameters(), local.named_parameters()):
    assert torch.equal(a, b) == (not name.startswith("blocks.1.mlp.")), name
# MSA's formula, parameter by parameter.
P = lambda f: dict(torch.jit.load(f"{out}/{f}").named_parameters())
c, e, f, rr, merged = P("lm.pt"), P("early.pt"), P("other.pt"), P("local.pt"), P("merged.pt")
for k in c:
    want = c[k] - 1.5 * (f[k] - e[k]) + 0.5 * (rr[k] - e[k])
    assert torch.allclose(merged[k], want, atol=1e-6), k
print("ok: Python agrees on log-probabilities, perplexity, generation, hook points, objectives and MSA's formula")
PY

# Bad input: each an error naming the script line; nothing else lost.
cat >m/bad_table.pipe <<'PIPE'
plugin "restor"
let facts = {entity: ["dog"], relation: ["kind"], answer: ["canine"]}
report "docs" = restor.corpus(facts)
PIPE
expect_error "a facts table missing a column" "bad_table.pipe:3:" -- "$PIPETTE" run m/bad_table.pipe --out m/bad1
grep -qF "answers" "$tmp/err" || { echo "FAIL: the missing column is not named"; cat "$tmp/err"; fail=1; }
cat >m/bad_word.pipe <<'PIPE'
plugin "restor"
let m = model.load("out/lm.pt")
report "ok" = lm.perplexity(m, "the red fox")
report "unknown" = lm.logprob(m, "the red fox", " crimson")
PIPE
expect_error "an answer word outside the tokenizer" "'crimson' is not a word of the vocabulary" -- "$PIPETTE" run m/bad_word.pipe --out m/bad2
grep -qF "bad_word.pipe:4:" "$tmp/err" || { echo "FAIL: no script line"; cat "$tmp/err"; fail=1; }
grep -qF '"ok": ' m/bad2/report.json || { echo "FAIL: the good node's value was lost"; fail=1; }
cat >m/bad_forget.pipe <<'PIPE'
plugin "restor"
let m = model.load("out/lm.pt")
report "u" = restor.unlearn(m, [], method="ga").steps
PIPE
expect_error "an empty forget set" "forget is empty" -- "$PIPETTE" run m/bad_forget.pipe --out m/bad3
grep -qF "bad_forget.pipe:3:" "$tmp/err" || { echo "FAIL: no script line"; cat "$tmp/err"; fail=1; }
cat >m/bad_lr.pipe <<'PIPE'
plugin "restor"
let m = model.load("out/lm.pt")
report "u" = restor.unlearn(m, ["the red fox jumps over the lazy dog ."], method="ga", lr=1e12, grad_clip=0.0, steps=50).steps
report "t" = train.lm(["the red fox"], steps=50, lr=1e12, grad_clip=0.0, width=16, blocks=1, heads=2, context=8).loss
PIPE
expect_error "a learning rate that makes the loss NaN" "no model is returned" -- "$PIPETTE" run m/bad_lr.pipe --out m/bad4
grep -qF "bad_lr.pipe:3:" "$tmp/err" && grep -qF "bad_lr.pipe:4:" "$tmp/err" || { echo "FAIL: both lines"; cat "$tmp/err"; fail=1; }
exit $fail
