#!/usr/bin/env bash
# A one-machine Slurm cluster from Debian's slurm-wlm and munge, for the
# tests and for trying `pipette run --executor slurm` without a cluster:
# munged, slurmctld and slurmd with their keys, configuration, state and logs
# in one directory, on ports no other Slurm uses (16817, 16818), with no
# accounting database. Needs root (slurmd runs jobs as their users).
#   bash scripts/slurm-local.sh start    # prints: export SLURM_CONF=...
#   bash scripts/slurm-local.sh status   # sinfo; exit 1 when it is not up
#   bash scripts/slurm-local.sh stop     # cancels jobs, stops the daemons
# PIPETTE_SLURM_DIR chooses the directory (default /tmp/pipette-slurm); stop
# removes only what start made there.
set -euo pipefail
dir=${PIPETTE_SLURM_DIR:-/tmp/pipette-slurm}
conf=$dir/slurm.conf
marker=$dir/.made-by-pipette
export SLURM_CONF=$conf

need() {
  for c in munged slurmctld slurmd sinfo sbatch scontrol; do
    command -v "$c" >/dev/null || { echo "slurm-local: $c not found: apt-get install slurm-wlm munge (scripts/install-deps.sh does)" >&2; exit 2; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "slurm-local: needs root (slurmd starts jobs as their users)" >&2; exit 2; }
}

up() { sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

start() {
  need
  if [[ -f $marker ]] && up; then echo "export SLURM_CONF=$conf"; return 0; fi
  [[ -e $dir && ! -f $marker ]] && [[ -n $(ls -A "$dir" 2>/dev/null) ]] &&
    { echo "slurm-local: $dir exists and was not made by this script; set PIPETTE_SLURM_DIR" >&2; exit 2; }
  mkdir -p "$dir"/{munge,state,spool,log}
  touch "$marker"
  chmod 700 "$dir/munge"
  [[ -f $dir/munge/munge.key ]] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; chmod 400 "$dir/munge/munge.key"; }
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  cat >"$conf" <<CONF
ClusterName=pipette
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it a job that names no --mem is given the whole node's memory, and
# jobs then run one at a time however many CPUs are free.
DefMemPerCPU=2048
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
         --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed" --force
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if up; then echo "export SLURM_CONF=$conf"; return 0; fi
    sleep 0.5
  done
  echo "slurm-local: the cluster did not come up; logs in $dir/log:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  exit 1
}

# wait_gone TRIES PAUSE PID...: until none of the processes is left, or TRIES pauses.
wait_gone() {
  local tries=$1 pause=$2 pid alive
  shift 2
  for _ in $(seq 1 "$tries"); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep "$pause"
  done
}

stop() {
  [[ -f $marker ]] || { echo "slurm-local: nothing of ours in $dir"; return 0; }
  scancel --full -u root 2>/dev/null || true
  local pids=()
  for p in slurmd slurmctld munge/munged; do
    [[ -f $dir/$p.pid ]] && pids+=("$(cat "$dir/$p.pid")")
  done
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  # The daemons take a few seconds to shut down; a new start must not find them listening.
  wait_gone 40 0.25 "${pids[@]}"
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # SIGKILL is delivered, not awaited: wait until they are gone, so "stopped" means it.
  wait_gone 20 0.1 "${pids[@]}"
  rm -rf "$dir"
}

case ${1:-status} in
  start) start ;;
  stop) stop ;;
  status) if up; then sinfo; else echo "slurm-local: not running (SLURM_CONF=$conf)"; exit 1; fi ;;
  *) echo "usage: slurm-local.sh start|stop|status" >&2; exit 2 ;;
esac
