#!/usr/bin/env bash
# Configures (once) and builds pipette in ./build. Extra arguments go to CMake,
# e.g. -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)').
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
elif (($#)); then
  cmake -S . -B build "$@"
fi
cmake --build build --parallel "$(nproc)"
# The Python module: importable by Debian's Python, and its tests' peers.
if [[ -f build/python/pipette/__init__.py ]]; then bash scripts/python-module.sh build; fi
