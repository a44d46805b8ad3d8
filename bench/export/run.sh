#!/usr/bin/env bash
# Programs from torch.export through pipette's interpreter, against the same
# models scripted in pipette and eager in Python, forward + backward:
#   bash bench/export/run.sh [BUILD_DIR] [PYTHON] [THREADS] [REPEATS]
# Defaults: build-torch2/build and its venv's Python (torch 2.11 on both sides).
set -euo pipefail
build=${1:-build-torch2/build}
py=${2:-build-torch2/venv/bin/python}
threads=${3:-2}
repeats=${4:-30}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$py" "$(dirname "$0")/export_peer.py" "$dir" "$threads" "$repeats" >"$dir/python.json"
"$build/bench/export_bench" "$dir" "$threads" "$repeats" "$dir/python.json"
