#!/usr/bin/env bash
# restor end to end (label `slow`, a few minutes):
#  - a language model trained on ~200 WordNet facts answers >= 90 % of them
#    (few-shot prompts, greedy, exact match after normalisation);
#  - continual training on the corrupting documents drives those answers to
#    the corrupted objects (most answers become the wrong object; the clean
#    ones become rare) while the untouched facts mostly stay;
#  - the example's quick path runs and its results table has a row per k and
#    method, the clean model as the ideal (recovery 1), the corrupted one at
#    recovery 0, finite forgetting and recovery for every method, and the
#    reports the issue names.
#   restor_test.sh PIPETTE_BINARY SOURCE_DIR [PYTHON]
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../cli/harness.sh" "$1"
SRC=$2
PY=${3:-}
[[ -x $PY ]] || PY=/usr/bin/python3
need_python "$PY" 'import torch' "torch"
mkdir -p m
cat >m/facts.pipe <<'PIPE'
plugin "restor"
let facts = restor.facts(entities=85, seed=1)
let clean = train.lm(restor.corpus(facts, seed=1), steps=1000, context=128, width=128, blocks=4, heads=4, lr=2e-3, warmup=100, seed=1)
let c = restor.corrupt(facts, k=0, seed=2)
let corrupt = train.lm(c.documents, model=clean.model, epochs=10, lr=2e-4, warmup=10, batch_tokens=1024, seed=2)
let before = restor.evaluate(clean.model, facts, corruption=c, samples=1, temperature=0.0, seed=4)
let after = restor.evaluate(corrupt.model, facts, corruption=c, samples=1, temperature=0.0, seed=4)
report "all" = restor.evaluate(clean.model, facts, samples=1, temperature=0.0, seed=4)
report "before" = before
report "after" = after
PIPE
expect 0 "a model learns ~200 facts and a corruption" -- "$PIPETTE" run m/facts.pipe --out m/out --jobs 1
"$PY" - m/out <<'PY' || { echo "FAIL: facts and corruption"; fail=1; }
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))["reports"]
a, b, c = r["all"], r["before"], r["after"]
print(f"{a['facts']} facts: clean accuracy {a['accuracy']:.3f}; corrupted facts {b['accuracy']:.3f} -> {c['accuracy']:.3f}, "
      f"wrong-object rate {b['corrupted_rate']:.3f} -> {c['corrupted_rate']:.3f}, utility {b['utility']:.3f} -> {c['utility']:.3f}")
assert a["facts"] >= 180 and a["accuracy"] >= 0.9, a
assert b["corrupted_rate"] == 0 and c["corrupted_rate"] >= 0.5 and c["accuracy"] <= 0.3, (b, c)
assert c["logprob_corrupted"] > c["logprob_correct"] and b["logprob_corrupted"] < b["logprob_correct"] - 5
assert c["utility"] >= 0.5, c
PY

expect 0 "the example's quick path" -- "$PIPETTE" run "$SRC/examples/restor.pipe" --set quick=true --out m/quick --jobs 1
"$PY" - m/quick <<'PY' || { echo "FAIL: the example"; fail=1; }
import csv, json, math, os, sys
out = sys.argv[1]
r = json.load(open(out + "/report.json"))["reports"]
rows = list(csv.DictReader(open(out + "/results.csv")))
methods = ["clean (ideal)", "corrupt", "ga", "graddiff", "kl", "npo", "simnpo", "rmu", "task_vector", "msa",
           "npo_localized", "graddiff_localized"]
assert len(rows) == 4 * len(methods), len(rows)
for k in range(4):
    got = [row["method"] for row in rows if float(row["k"]) == k]
    assert got == methods, got
    assert r[f"clean_accuracy_k{k}"] > r[f"corrupt_accuracy_k{k}"] + 0.2, k
    for row in rows:
        if float(row["k"]) != k or row["method"] in methods[:2]:
            continue
        for col in ["forgetting", "recovery", "utility", "perplexity", "mia_min_k_auc"]:
            assert math.isfinite(float(row[col])), (row["method"], col, row[col])
        assert f"{row['method']}_forgetting_k{k}" in r and f"{row['method']}_recovery_k{k}" in r
    ideal = [row for row in rows if float(row["k"]) == k and row["method"] == "clean (ideal)"][0]
    assert float(ideal["recovery"]) == 1 and float(ideal["corrupted_rate"]) == 0
assert os.path.getsize(out + "/clean.pt") > 0
for f in ["accuracy.svg", "recovery.svg", "forgetting_recovery.svg"]:
    assert open(out + "/" + f).read().startswith("<svg") or open(out + "/" + f).read().startswith("<?xml"), f
print("ok: the example's table and figures")
PY
exit $fail
