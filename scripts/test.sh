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
for build in build build-torch2/build; do
  echo "== ctest in $build"
  start=$SECONDS
  (cd "$build" && ctest --output-on-failure -j "$(nproc)") || status=1
  echo "== $build: $((SECONDS - start)) s"
done
exit $status
