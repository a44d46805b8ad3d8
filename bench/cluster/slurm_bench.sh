#!/usr/bin/env bash
# The Slurm executor's cost against the local executor, on the one-machine
# cluster of scripts/slurm-local.sh (started here if SLURM_CONF is not set):
#   - per-node overhead: one trivial node (a saliency map of 8 images on a
#     small MLP, ~10 ms of work), submit -> done, under Slurm vs locally;
#   - makespan of a sweep of N such nodes (default 24), locally with --jobs 2
#     vs under Slurm (one job array on this machine's 2 CPUs).
# The model is trained once into a cache that each measurement copies, so
# every run computes exactly the N branches. Best of R runs (default 3).
#   bench/cluster/slurm_bench.sh PIPETTE [N] [R]
set -euo pipefail
pipette=$(readlink -f "$1")
n=${2:-24}
repeats=${3:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
started=0
if [[ -z ${SLURM_CONF:-} ]]; then
  export PIPETTE_SLURM_DIR=$tmp/cluster
  eval "$(bash "$root/scripts/slurm-local.sh" start)"
  started=1
fi
trap '[[ $started -eq 1 ]] && bash "$root/scripts/slurm-local.sh" stop >/dev/null 2>&1; rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir -p .pipette
write_script() {  # $1 = branches
  {
    echo 'let train_set = data.fashion_mnist(split="train", limit=300)'
    echo 'let test = data.fashion_mnist(split="test", limit=8)'
    echo 'let net = train.classifier(arch="mlp", data=train_set, epochs=1, seed=1).model'
    echo "report \"trained\" = 1"
    local list=""
    for ((i = 0; i < $1; i++)); do list+="${list:+, }1.$(printf %03d "$i")"; done
    echo "for k in [$list] {"
    echo '  report "s{k}" = attr.saliency(net, tensor.mul(test.images, k), target=test.labels)'
    echo "}"
  } >"sweep$1.pipe"
}
write_script 1
write_script "$n"
head -3 sweep1.pipe >train.pipe
echo 'report "accuracy" = train.classifier(arch="mlp", data=train_set, epochs=1, seed=1).accuracy' >>train.pipe
# The trained model, in a cache every measurement starts from (and the
# dataset files in the page cache).
"$pipette" run train.pipe --cache warm --out warm-run -q 2>/dev/null
best() {  # best wall time of $repeats runs of "$@" (a fresh copy of the warm cache each)
  local b=999999 t0 t1 t
  for ((r = 0; r < repeats; r++)); do
    rm -rf c && cp -r warm c
    t0=$(date +%s.%N)
    "$@" --cache c --out "out-$r" --force -q 2>err || { cat err >&2; exit 1; }
    last_out=out-$r
    t1=$(date +%s.%N)
    t=$(python3 -c "print($t1 - $t0)")
    b=$(python3 -c "print(min($b, $t))")
  done
  echo "$b"
}
slurm=(--executor slurm --poll-interval 0.2 --work-dir "$tmp/jobs")
l1=$(best "$pipette" run sweep1.pipe --jobs 2)
s1=$(best "$pipette" run sweep1.pipe "${slurm[@]}")
ln=$(best "$pipette" run "sweep$n.pipe" --jobs 2)
sn=$(best "$pipette" run "sweep$n.pipe" "${slurm[@]}")
# Where a job's time goes: Slurm's queue wait and run time, and the op's own.
python3 - out-0 <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
jobs = [n["job"] for n in r["nodes"] if "job" in n]
q = sorted(j.get("queue_seconds", 0) for j in jobs); t = sorted(j.get("run_seconds", 0) for j in jobs)
print(f"last sweep: {len(jobs)} jobs, median queue wait {q[len(q) // 2]:.0f} s, median run time {t[len(t) // 2]:.0f} s "
      "(Slurm's whole seconds)")
PY
t0=$(date +%s.%N); "$pipette" check sweep1.pipe >/dev/null 2>&1; t1=$(date +%s.%N)
echo "a pipette process that loads LibTorch and compiles the script: $(python3 -c "print(round($t1 - $t0, 2))") s"
python3 - "$l1" "$s1" "$ln" "$sn" "$n" <<'PY'
import sys
l1, s1, ln, sn = map(float, sys.argv[1:5]); n = int(sys.argv[5])
print(f"one node, whole run:   local {l1:6.2f} s   slurm {s1:6.2f} s   slurm/local {s1 / l1:5.1f}x   "
      f"overhead per job {s1 - l1:5.2f} s")
print(f"sweep of {n} nodes:     local {ln:6.2f} s   slurm {sn:6.2f} s   slurm/local {sn / ln:5.1f}x   "
      f"per node: local {ln / n:5.3f} s, slurm {sn / n:5.3f} s")
PY
