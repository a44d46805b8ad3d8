#!/usr/bin/env bash
# Hook points against a plain forward pass and against Python forward hooks:
#   bash bench/hooks/run.sh [BUILD_DIR] [PYTHON] [THREADS] [REPEATS]
# PYTHON defaults to Debian's (torch 1.13, the default build's LibTorch), so
# both sides run the same LibTorch.
set -euo pipefail
build=${1:-build}
py=${2:-/usr/bin/python3}
threads=${3:-2}
repeats=${4:-50}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$py" "$(dirname "$0")/python_peer.py" "$dir" "$threads" "$repeats" >"$dir/python.json"
"$build/bench/hooks_bench" "$dir" "$threads" "$repeats" "$dir/python.json"
