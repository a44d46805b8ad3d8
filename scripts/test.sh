#!/usr/bin/env bash
# Fresh machine -> installed dependencies, both builds, and the whole test
# suite against each: ./build on Debian's LibTorch 1.13 (the default), and
# build-torch2/build on PyPI's LibTorch 2.x with CUDA compiled in
# (scripts/torch2.sh). This is what CI runs (.ci/run). Both suites run even
# when the first fails; the exit status is 1 if either failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The second toolchain first: its Python (torch 2.x, Captum, safetensors) is
# what both suites' current_pytorch_files test uses.
bash scripts/torch2.sh
bash scripts/build.sh
status=0
# Tests labelled `slow` (minutes of training: restor end to end) run in the
# first suite only; the second runs every other test, the restor plugin's
# fast ones included, against LibTorch 2.x.
for build in build build-torch2/build; do
  echo "== ctest in $build"
  start=$SECONDS
  skip=()
  [[ $build == build-torch2/build ]] && skip=(-LE slow)
  (cd "$build" && ctest --output-on-failure -j "$(nproc)" "${skip[@]}") || status=1
  echo "== $build: $((SECONDS - start)) s"
done
exit $status
