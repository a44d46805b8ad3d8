#!/usr/bin/env bash
# The localize plugin's costs, measured in one pipette run each:
#  1. LocoGen's window sweep, every window x prompt x image sampled as batches
#     of one sampler (localize.locogen), against a loop over windows in the
#     same process: one diffusion.sample_text per window (the same
#     intervention, swap_blocks=) plus one for the unchanged prompts, the same
#     noise and the same number of images. Both must give the same scores.
#  2. sampling throughput: diffusion.sample_text against the same DiT written
#     out in eager PyTorch (eager_dit.py, Debian's python3-torch: the same
#     LibTorch 1.13), same weights, images, steps and threads.
#  3. localize.contributions' peak memory against the number of denoising
#     steps (it keeps only sums: flat), with the sampler alone beside it.
# Node times and peak memory are pipette's own (report.json, the run store;
# --jobs 1, so a node's peak is its own).
#   bench/localize/run.sh [BUILD] [BLOCKS] [IMAGES] [PYTHON]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
blocks=${2:-6}
n=${3:-8}
python=${4:-/usr/bin/python3}
pipette="$build/cli/pipette"
[[ -x $pipette ]] || { echo "no pipette at $pipette: build first (scripts/build.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

windows=$((blocks - 1))
loop=""
scores="["
for ((j = 0; j < windows; ++j)); do
  loop+="let w$j = diffusion.sample_text(m.model, prompts, n=$n, noise=noise, swap_prompts=free, swap_blocks=[$j, $((j + 1))])"$'\n'
  scores+="model.accuracy(probe.model, w$j, colours).probability"
  ((j + 1 < windows)) && scores+=", "
done
scores+="]"
cat >bench.pipe <<PIPE
plugin "localize"
let c = data.captioned(data.fashion_mnist(split="train", limit=4000), seed=1)
let m = diffusion.train_text(c.data, c.vocab, steps=100, batch=32, blocks=$blocks, width=48, planted_words=["red", "green", "blue", "yellow"], planted_blocks=[2, 3], seed=1)
let probe = train.classifier(arch="mlp", data=data.from_tensors({images: c.data.images, labels: c.data.colour}), epochs=1, seed=1)
let prompts = data.tokenize(["a large red plain dress on the left", "a small green striped bag on the right", "a large blue checked coat on the right", "a small yellow plain sneaker on the left"], c.vocab, length=8)
let colours = [0, 1, 2, 3]
let free = data.drop_words(prompts, c.vocab, ["red", "green", "blue", "yellow"])
let noise = tensor.random([$((4 * n)), 3, 16, 16], seed=7)
let sweep = localize.locogen(m.model, prompts, free, probe.model, colours, window=2, n=$n, noise=noise)
report "batched" = sweep.windows.score
let unchanged = diffusion.sample_text(m.model, prompts, n=$n, noise=noise)
report "loop_baseline" = model.accuracy(probe.model, unchanged, colours).probability
$loop
report "loop" = $scores
let c10 = localize.contributions(m.model, prompts, c.vocab, ["red", "green", "blue", "yellow"], n=$n, steps=10, seed=5)
let c40 = localize.contributions(m.model, prompts, c.vocab, ["red", "green", "blue", "yellow"], n=$n, steps=40, seed=5)
let c160 = localize.contributions(m.model, prompts, c.vocab, ["red", "green", "blue", "yellow"], n=$n, steps=160, seed=5)
let s10 = diffusion.sample_text(m.model, prompts, n=$n, steps=10, seed=5)
let s160 = diffusion.sample_text(m.model, prompts, n=$n, steps=160, seed=5)
report "contributions" = [c10.blocks, c40.blocks, c160.blocks]
report "samples" = [s10, s160]
m.model |> save("t2i.pt")
prompts |> save("prompts.pt")
let t1 = diffusion.sample_text(m.model, prompts, n=$n, steps=20, seed=11)
let t2 = diffusion.sample_text(m.model, prompts, n=$n, steps=20, seed=12)
let t3 = diffusion.sample_text(m.model, prompts, n=$n, steps=20, seed=13)
report "timed" = [t1, t2, t3]
PIPE
export OMP_NUM_THREADS=$(nproc)
# Idle OpenMP threads sleep instead of spinning, in both processes: spinning
# threads took the 2 cores from the work here (a 200-step training: 61 s with
# 2 spinning threads, 22 s with 2 passive ones or 1).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
"$pipette" run bench.pipe --out out --jobs 1 --no-cache >run.log 2>&1 || { cat run.log; exit 1; }
"$python" "$here/eager_dit.py" out/t2i.pt out/prompts.pt "$n" 20 "$(nproc)" 3 >eager.json  # pipette --jobs 1 uses every core too
"$python" - out .pipette/runs.db "$blocks" "$n" eager.json <<'PY'
import json, sqlite3, sys  # torch too, below: Debian's python3-torch (or PYTHON)
out, db, blocks, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
eager = json.load(open(sys.argv[5]))
r = json.load(open(f"{out}/report.json"))
nodes = r["nodes"]
def line(node):  # a node's script line: the bench's lines are unique
    return int(str(node["loc"]).split(":")[1])
src = open("bench.pipe").read().splitlines()
def text(node):
    return src[line(node) - 1]
batched = sum(x["seconds"] for x in nodes if x["op"] == "localize.locogen")
loop = sum(x["seconds"] for x in nodes if x["op"] == "diffusion.sample_text" and "noise=noise" in text(x))
scoring = sum(x["seconds"] for x in nodes if x["op"] == "model.accuracy")
b, l = r["reports"]["batched"], r["reports"]["loop"]
gap = max(abs(x - y) for x, y in zip(b, l))
print(f"LocoGen sweep, {blocks} blocks, {blocks - 1} windows of 2, 4 prompts x {n} images, 20 DDIM steps:")
print(f"  batched (localize.locogen)             {batched:7.2f} s")
print(f"  loop over windows (diffusion.sample_text x {blocks})  {loop:7.2f} s  (+ {scoring:.2f} s scoring)")
print(f"  loop / batched                         {loop / batched:7.2f}x")
print(f"  same window scores: largest difference {gap:.2e}" + ("" if gap < 1e-4 else "  <-- MISMATCH"))
timed = min(x["seconds"] for x in nodes if x["op"] == "diffusion.sample_text" and "seed=1" in text(x) and "steps=20" in text(x))
print(f"Sampling 4 prompts x {n} images, 20 DDIM steps with guidance ({blocks} blocks, width 48, every core):")
print(f"  pipette diffusion.sample_text (best of 3)   {timed:7.3f} s  {4 * n * 20 / timed:7.0f} image-steps/s")
print(f"  eager PyTorch, same DiT (best of 3)         {eager['seconds']:7.3f} s  {4 * n * 20 / eager['seconds']:7.0f} image-steps/s"
      f"  (its forward equals the TorchScript one to {eager['forward_gap']:.1e})")
print(f"  eager / pipette                             {eager['seconds'] / timed:7.2f}x")
con = sqlite3.connect(db)
rows = con.execute("SELECT op, loc, peak_bytes, seconds FROM nodes WHERE run_id = ?", (r["run"]["id"],)).fetchall()
def peak(op, steps):
    for o, loc, p, s in rows:
        ln = int(str(loc).split(":")[1])
        if o == op and f"steps={steps}," in src[ln - 1]:
            return p / 2**20, s
    return float("nan"), float("nan")
print("localize.contributions, peak memory above the node's start (MiB) and time, against denoising steps:")
for steps in (10, 40, 160):
    p, s = peak("localize.contributions", steps)
    print(f"  {steps:4d} steps: {p:7.1f} MiB  {s:6.2f} s")
for steps in (10, 160):
    p, s = peak("diffusion.sample_text", steps)
    print(f"  diffusion.sample_text alone, {steps:4d} steps: {p:7.1f} MiB  {s:6.2f} s")
p10, p160 = peak("localize.contributions", 10)[0], peak("localize.contributions", 160)[0]
import torch
m = torch.jit.load(f"{out}/t2i.pt")
tokens = torch.load(f"{out}/prompts.pt")
# What keeping every step's attention weights would hold (conditional rows
# only, every block): steps x blocks x rows x heads x image tokens x (1 + words) floats.
store = 160 * blocks * 4 * n * int(m.heads) * (int(m.image_size) // int(m.patch_size)) ** 2 * (1 + tokens.shape[1]) * 4 / 2**20
print(f"  growth from 10 to 160 steps: {p160 - p10:+.1f} MiB; keeping every step's attention weights instead "
      f"would hold {store:.1f} MiB at 160 steps")
PY
