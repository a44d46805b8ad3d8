#!/usr/bin/env bash
# Attribution for a language model against Captum 0.9's LLMAttribution on the
# same model: a GPT trained by train.lm, loaded in Python with torch.jit.load
# behind the interface Captum asks of a Hugging Face model (logits in an
# object, a tokenizer with encode/decode and offsets). Feature ablation and
# exact Shapley values over the prompt's tokens (<bos> skipped, absent tokens
# replaced by the same baseline word), per continuation token, to 1e-5.
# Captum's LLMGradientAttribution hooks an nn.Module embedding, which a
# scripted model does not have: attr.llm_gradient is checked by completeness
# (tests/stdlib/llm_attribution_test.cpp).
#   llm_attribution_test.sh PIPETTE_BINARY PYTHON
# Exit 77 (ctest: skipped) without a Python that has Captum.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/harness.sh" "$1"
PY=${2:-}
need_python "$PY" 'import torch, captum' "torch and captum"
mkdir -p l
cat >l/run.pipe <<'PIPE'
let m = train.lm(["the red fox jumps over the lazy dog", "the lazy dog sleeps", "a red fox runs"], steps=40, width=16, blocks=1, heads=2, context=16, seed=3).model
save(m, "lm.pt")
report "fa" = attr.llm_feature_ablation(m, "the red fox", "jumps over", baseline="a")
report "sv" = attr.llm_shapley(m, "the red fox", "jumps over", baseline="a")
PIPE
expect 0 "LLM attribution runs" -- "$PIPETTE" run l/run.pipe --out l/out --no-cache
[[ $fail -eq 0 ]] || exit 1
"$PY" - l <<'PY' || { echo "FAIL: pipette's LLM attribution differs from Captum's"; fail=1; }
import json, sys, warnings
from types import SimpleNamespace
import torch
from captum.attr import FeatureAblation, LLMAttribution, ShapleyValues, TextTokenInput
warnings.filterwarnings("ignore")
d = sys.argv[1]
lm = torch.jit.load(f"{d}/out/lm.pt").eval()
vocab = list(lm.vocab)
index = {w: i for i, w in enumerate(vocab)}


class Model(torch.nn.Module):  # Captum reads .logits and calls forward(input_ids=..., attention_mask=...)
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask=None, **kw):
        return SimpleNamespace(logits=self.m(input_ids))


class Tokenizer:  # pipette's word tokenizer on these space-separated words; <bos> is id 1
    def _split(self, text):
        out, i = [], 0
        for w in text.split(" "):
            if w:
                out.append((w, i, i + len(w)))
            i += len(w) + 1
        return out

    def encode(self, text, add_special_tokens=True, return_tensors=None):
        ids = ([1] if add_special_tokens else []) + [index[w] for w, _, _ in self._split(text)]
        return torch.tensor([ids]) if return_tensors == "pt" else ids

    def decode(self, ids):
        ids = ids.reshape(-1).tolist() if isinstance(ids, torch.Tensor) else ([ids] if isinstance(ids, int) else ids)
        return " ".join(vocab[i] for i in ids)

    def convert_ids_to_tokens(self, ids):
        return vocab[ids] if isinstance(ids, int) else [vocab[i] for i in ids]

    def convert_tokens_to_ids(self, toks):
        return index[toks] if isinstance(toks, str) else [index[t] for t in toks]

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=False, **kw):
        sp = self._split(text)
        ids, offs = [index[w] for w, _, _ in sp], [(s, e) for _, s, e in sp]
        if add_special_tokens:
            ids, offs = [1] + ids, [(0, 0)] + offs
        return {"input_ids": ids, **({"offset_mapping": offs} if return_offsets_mapping else {})}


tok, model = Tokenizer(), Model(lm)
r = json.load(open(f"{d}/out/report.json"))["reports"]
for name, method in (("fa", FeatureAblation), ("sv", ShapleyValues)):
    inp = TextTokenInput("the red fox", tok, baselines="a", skip_tokens=["<bos>"])
    want = LLMAttribution(method(model), tok).attribute(inp, target="jumps over", use_cached_outputs=False)
    got = r[name]
    assert got["tokens"] == want.input_tokens, (got["tokens"], want.input_tokens)
    for key, w in (("seq_attr", want.seq_attr), ("token_attr", want.token_attr)):
        g = torch.load(f"{d}/out/" + got[key]["file"]).double()
        err = (g - w.double()).abs().max().item()
        assert err < 1e-5, (name, key, g.tolist(), w.tolist())
        print(f"ok: {name} {key} equals Captum's (largest difference {err:.1e})")
PY
exit $fail
