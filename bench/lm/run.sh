#!/usr/bin/env bash
# Training and scoring throughput of pipette's language model (train.lm,
# lm.perplexity) against the same GPT in eager PyTorch (Debian's python3-torch,
# eager_gpt.py), measured in the same run on the same shapes: rows of 128
# tokens, 2048 tokens per step, width 128, 4 blocks, a 344-word vocabulary.
# Prints seconds per step and the ratio pipette / eager (below 1: pipette is
# faster). Three pipette settings: the default (one intra-op thread per node
# on this machine), --jobs 1 (several intra-op threads, OpenMP made passive:
# cli/openmp_policy.cpp), and --jobs 1 with the spinning policy forced back
# (GOMP_SPINCOUNT=300000), which is what made training ~3x slower before.
#   bash bench/lm/run.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-40}
pipette=${PIPETTE:-build/cli/pipette}
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" bench/lm/make_docs.py "$work/docs.pt" 256 127 341

node_seconds() {  # the seconds of the report's node running OP
  "$py" -c 'import json,sys; print([n["seconds"] for n in json.load(open(sys.argv[1]))["nodes"] if n["op"] == sys.argv[2]][0])' "$1" "$2"
}
train() {  # label, extra env/flags
  local label=$1 out=$work/$1
  shift
  env "$@" "$pipette" run bench/lm/train_bench.pipe --no-cache --set docs="$work/docs.pt" --set steps="$steps" \
    ${JOBS:+--jobs $JOBS} --out "$out" >/dev/null 2>&1
  "$py" -c "print(f'{\"$label\":<28} {$(node_seconds "$out/report.json" train.lm) / $steps:.4f} s/step')"
}
train "pipette (default jobs)"
JOBS=1 train "pipette --jobs 1"
JOBS=1 train "pipette --jobs 1, spinning" GOMP_SPINCOUNT=300000

# Scoring: a model of the same shapes, saved, read back by lm.perplexity.
cat > "$work/save.pipe" <<PIPE
let m = train.lm(load("$work/docs.pt"), steps=1, context=128, width=128, blocks=4, heads=4)
save(m.model, "model.pt")
PIPE
"$pipette" run "$work/save.pipe" --no-cache --out "$work/saved" >/dev/null 2>&1
"$pipette" run bench/lm/score_bench.pipe --no-cache --set docs="$work/docs.pt" --set model_file="$work/saved/model.pt" \
  --out "$work/score" >/dev/null 2>&1
score=$(node_seconds "$work/score/report.json" lm.perplexity)
"$py" bench/lm/eager_gpt.py --vocab 344 --rows 16 --steps "$steps" --docs 256 --scripted "$work/saved/model.pt" \
  | tee "$work/eager.txt"
"$py" - "$work" "$steps" "$score" <<'PY'
import json, sys
work, steps, score = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
eager = dict(l.split() for l in open(f"{work}/eager.txt"))
train = [n["seconds"] for n in json.load(open(f"{work}/pipette (default jobs)/report.json"))["nodes"] if n["op"] == "train.lm"][0] / steps
print(f"pipette lm.perplexity pass     {score:.4f} s")
print(f"training ratio pipette/eager   {train / float(eager['eager_train']):.2f}")
print(f"scoring ratio pipette/eager    {score / float(eager['eager_score']):.2f}")
PY
