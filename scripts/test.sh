#!/usr/bin/env bash
# Fresh machine -> installed dependencies, a build, and the whole test suite.
# This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
