#!/usr/bin/env bash
# `pipette run --executor slurm` on the one-machine cluster of
# scripts/slurm-local.sh: a sweep gives the local executor's outputs bitwise,
# as a job array; a job cancelled by someone else is retried; a driver killed
# with SIGKILL is resumed by the same command, adopting the job it left
# running; a failing node reports its script line and its log's tail; Ctrl-C
# cancels every job; and the bad inputs of issue 25 get one clear error each.
#   slurm_executor_test.sh REPO_ROOT PIPETTE
# Exit 77 (ctest: skipped) without root or slurm-wlm, saying so loudly.
root=$1
pipette=$(readlink -f "$2")
here=$root/tests/cluster
if [[ $(id -u) -ne 0 ]] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "SKIPPED: the Slurm executor's tests need root and Debian's slurm-wlm and munge (scripts/install-deps.sh installs them)" >&2
  exit 77
fi
py=/usr/bin/python3
fail=0
tmp=$(mktemp -d)
export PIPETTE_SLURM_DIR=$tmp/cluster
cleanup() { bash "$root/scripts/slurm-local.sh" stop >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
eval "$(bash "$root/scripts/slurm-local.sh" start)" || { echo "FAIL: the cluster does not start"; exit 1; }
cd "$tmp"
mkdir -p .pipette  # the project: its cache, run store and Slurm work directory
fast=(--poll-interval 0.3 --retry-backoff 0)
wait_running() {  # until a job named like $1 runs; prints its id
  for _ in $(seq 1 300); do
    id=$(squeue -h -t RUNNING -o '%i %j' | awk -v p="$1" '$2 ~ p {print $1; exit}')
    [[ -n $id ]] && { echo "$id"; return 0; }
    sleep 0.1
  done
  return 1
}
# Compares two runs' reports: every tensor bitwise equal, scalars equal.
same_reports() {
  $py - "$1" "$2" <<'PY'
import json, sys, torch
a, b = (json.load(open(d + "/report.json")) for d in sys.argv[1:3])
def val(d, v):
    return torch.load(d + "/" + v["file"]) if isinstance(v, dict) and "file" in v else v
ra, rb = a["reports"], b["reports"]
assert sorted(ra) == sorted(rb), (sorted(ra), sorted(rb))
for k in ra:
    x, y = val(sys.argv[1], ra[k]), val(sys.argv[2], rb[k])
    same = torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
    assert same, k
print(len(ra), "reports equal")
PY
}

# 1. A sweep: six branches as one array, outputs equal to the local executor's.
"$pipette" run "$here/sweep.pipe" --cache local-cache --out local --jobs 2 2>local.err ||
  { echo "FAIL: the local run"; cat local.err; exit 1; }
t0=$(date +%s.%N)
"$pipette" run "$here/sweep.pipe" --executor slurm "${fast[@]}" --cache c1 --out s1 -v 2>s1.err
rc=$?
t1=$(date +%s.%N)
check "the sweep under Slurm succeeds" '[[ $rc -eq 0 ]] || { cat s1.err; false; }'
check "its reports equal the local run's, bitwise" 'same_reports local s1'
check "the ten attribution nodes went as job arrays" 'grep -qE "11 jobs submitted \((1|2) arrays\)" s1.err || { grep Slurm: s1.err; false; }'
check "four shards equal the unsharded attribution (to float rounding: docs/cluster.md)" "$py -c \"import torch; a, b = (torch.load('s1/reports/' + n + '.pt') for n in ('ig_8', 'ig_8_sharded')); assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7), (a - b).abs().max()\""
run_id=$($py -c "import json; print(json.load(open('s1/report.json'))['run']['id'])")
check "runs show prints each node's job" '"$pipette" runs show "$run_id" | grep -qE "slurm job [0-9_]+ on [^ ]+: COMPLETED, 1 attempt"'
check "report.json records each job: id, host, state, times" "$py - s1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + '/report.json'))
jobs = [n['job'] for n in r['nodes'] if 'job' in n]
assert len(jobs) == 11 and r['run']['executor'] == 'slurm', jobs
assert all(j['state'] == 'COMPLETED' and j['host'] and j['run_seconds'] >= 0 and j['queue_seconds'] >= 0 for j in jobs), jobs
assert sum('_' in j['job_id'] for j in jobs) >= 6, jobs
PY"
check "the run store has the jobs too" '[[ $($py -c "import sqlite3; print(sqlite3.connect(\".pipette/runs.db\").execute(\"select count(*) from nodes where job like '"'"'%COMPLETED%'"'"'\").fetchone()[0])") -eq 11 ]]'
echo "sweep of 11 jobs under Slurm: $($py -c "print(round($t1 - $t0, 1))") s"
"$pipette" run "$here/sweep.pipe" --executor slurm "${fast[@]}" --cache c1 --out s1b -v 2>s1b.err
check "run again, everything comes from the cache: no job" 'grep -q "0 jobs submitted" s1b.err && same_reports local s1b'

# 2. A job cancelled by someone else (scancel) is submitted again.
"$pipette" run "$here/sweep.pipe" --set slow=40 --executor slurm "${fast[@]}" --retries 1 --cache c2 --out s2 -v 2>s2.err &
driver=$!
id=$(wait_running pipette-train-classifier)
check "the training job runs" '[[ -n $id ]]'
scancel "$id"
wait $driver
rc=$?
check "after scancel of its job the run still succeeds" '[[ $rc -eq 0 ]] || { tail -20 s2.err; false; }'
check "it said the job was submitted again" 'grep -q "ended CANCELLED.*submitted again" s2.err'
check "report.json counts two attempts" "$py -c \"import json; r=json.load(open('s2/report.json')); assert any(n.get('job',{}).get('attempts')==2 for n in r['nodes'])\""

# 3. The driver killed (SIGKILL) mid-run: the same command resumes, adopting the running job.
"$pipette" run "$here/sweep.pipe" --set slow=25 --executor slurm "${fast[@]}" --cache c3 --out s3 2>s3.err &
driver=$!
id=$(wait_running pipette-train-classifier)
kill -9 $driver
wait $driver 2>/dev/null
check "the job outlives its driver" '[[ -n $id ]] && squeue -h -j "$id" -o %T | grep -qE "RUNNING|COMPLETING|COMPLETED"'
"$pipette" run "$here/sweep.pipe" --set slow=25 --executor slurm "${fast[@]}" --cache c3 --out s3 -v 2>s3b.err
rc=$?
check "the second driver finishes the run" '[[ $rc -eq 0 ]] || { tail -20 s3b.err; false; }'
check "it adopted the running job instead of training again" 'grep -q "1 adopted" s3b.err && grep -q "adopted, not submitted again" s3b.err'
train_dir=$(dirname "$(grep -l "(train.classifier)" .pipette/slurm/*/*/job.sh | xargs grep -l "slow=25")")
check "nothing was computed twice: the training node has one attempt" '[[ $(ls "$train_dir"/attempt-*.log | wc -l) -eq 1 ]]'

# 4. A failing node: its script line and the tail of its job's log; the other branch finishes.
"$pipette" run "$here/failing.pipe" --executor slurm "${fast[@]}" --cache c4 --out s4 2>s4.err
rc=$?
check "a failing node fails the run" '[[ $rc -eq 1 ]]'
check "the error names the script line" 'grep -q "failing.pipe:6:.*error: in node" s4.err || { cat s4.err; false; }'
check "and shows the end of the job's log" 'grep -q "the end of its log" s4.err && grep -q "  | " s4.err'
check "the other branch was reported" "$py -c \"import json; r=json.load(open('s4/report.json')); assert 'ok' in r['reports'] and r['missing_reports']==['bad']\""

# 5. Ctrl-C, and SIGTERM (what a scheduler sends a driver that runs as a job
# itself): every job of the run is cancelled, the run recorded as interrupted.
stop_driver() {  # SIGNAL SLOW OUT: a run stopped by SIGNAL once its training job runs; its exit status
  "$pipette" run "$here/sweep.pipe" --set slow=$2 --executor slurm "${fast[@]}" --cache c5 --out "$3" 2>"$3.err" &
  local driver=$!
  wait_running pipette-train-classifier >/dev/null
  kill -"$1" $driver
  wait $driver
  local rc=$?
  sleep 1
  return $rc
}
stop_driver INT 40 s5
rc=$?
check "Ctrl-C ends the driver with 130" '[[ $rc -eq 130 ]] || { echo rc=$rc; tail s5.err; false; }'
check "no job of the run is left" '[[ -z $(squeue -h -t PENDING,RUNNING -o %j | grep pipette-) ]]'
check "the run is recorded as interrupted" "grep -q '\"status\": \"interrupted\"' s5/report.json"
stop_driver TERM 41 s5t
rc=$?
check "SIGTERM ends the driver with 143 and cancels its jobs" '[[ $rc -eq 143 && -z $(squeue -h -t PENDING,RUNNING -o %j | grep pipette-) ]] || { echo rc=$rc; tail s5t.err; false; }'

# 6. Bad input: one clear error each, nothing run.
mkdir -p empty-path; err=$(PATH=$tmp/empty-path "$pipette" run "$here/sweep.pipe" --executor slurm --cache c6 --out s6 2>&1)
check "no sbatch on PATH" '[[ $err == *"there is no sbatch on PATH"* ]] && [[ ! -e s6/report.json ]]'
err=$("$pipette" run "$here/sweep.pipe" --executor slurm --partition nowhere --cache c6 --out s6 2>&1)
check "a partition that does not exist" '[[ $err == *"there is no Slurm partition '"'"'nowhere'"'"'; this cluster has: debug"* ]]'
err=$("$pipette" run "$here/sweep.pipe" --partition debug --cache c6 --out s6 2>&1)
check "an executor option for the local executor" '[[ $err == *"--partition is an option of the Slurm executor, but this run uses the local one"* ]]'
err=$("$pipette" run "$here/sweep.pipe" --executor slurm --no-cache --out s6 2>&1)
check "--no-cache with slurm" '[[ $err == *"needs the cache"* ]]'
err=$("$pipette" run "$here/failing.pipe" --executor slurm "${fast[@]}" --resources mem=500G --cache c6 --out s6 2>&1)
check "a request Slurm refuses is its message, at the node's line" '[[ $err == *"failing.pipe:4:"*"Slurm refused its job"*"--mem=512000M"* ]] || { echo "$err"; false; }'
# A cache the compute node does not share: the driver sees its own tmpfs over
# the cache directory (a mount namespace); slurmd, outside it, the bare directory.
if unshare -m true 2>/dev/null; then
  mkdir -p c7
  err=$(unshare -m bash -c "mount -t tmpfs none c7 && '$pipette' run '$here/sweep.pipe' --executor slurm --poll-interval 0.3 --cache c7 --out s7 2>&1")
  check "a cache that is not shared is said to be so" '[[ $err == *"filesystem the compute nodes share"* || $err == *"is the cache directory on a filesystem shared"* ]] || { echo "$err" | tail; false; }'
else
  echo "SKIPPED (this case only): no mount namespaces here to hide the cache from the compute node" >&2
fi
exit $fail
