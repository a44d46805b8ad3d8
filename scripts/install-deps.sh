#!/usr/bin/env bash
# Installs every build, test and example dependency of pipette from Debian 12.
# Idempotent: packages already present are skipped by apt itself. Quiet unless
# something fails, and then it fails loudly with apt's own message.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build git pkg-config clang
  # libraries the code links against
  libtorch-dev libboost-dev libcli11-dev libspdlog-dev libfmt-dev
  libpugixml-dev nlohmann-json3-dev libtbb-dev libxxhash-dev libsqlite3-dev
  libstb-dev libeigen3-dev libgtest-dev libgmock-dev zlib1g-dev
  # an optimised BLAS for LibTorch's matrix products (Debian's libtorch links
  # the reference BLAS through the alternatives system; OpenBLAS built on
  # OpenMP, as LibTorch is, replaces it): 3-10x faster linear layers
  libopenblas0-openmp
  # data and models used by examples and tests
  dataset-fashion-mnist python3-skimage wordnet-base
  # peers and viewers used by tests: torch.load round trips, DOT rendering
  python3-torch graphviz
  # what Captum (the attribution benchmark's peer) imports besides torch
  python3-tqdm
  # the Python module (python/): its binding, Debian's pytest for its tests
  pybind11-dev python3-dev python3-pytest
  # a one-machine Slurm cluster for the cluster tests (scripts/slurm-local.sh)
  slurm-wlm munge
  # editors the editor-support tests drive headless, KDE's highlighting engine,
  # and node/npm for VS Code's TextMate engine (tests/editors/textmate)
  vim emacs-nox libkf5syntaxhighlighting-tools nodejs
  # a real browser for the HTML report tests (headless) and the docs' screenshots
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# VS Code's TextMate engine for the highlighting test, pinned by package-lock.json.
npm_packages() {
  local dir=tests/editors/textmate
  # Debian's nodejs comes without npm (other builds of nodejs bundle it).
  if ! command -v npm >/dev/null; then
    echo "install-deps: installing npm"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm; } \
      >/dev/null || { echo "install-deps: apt-get install npm failed" >&2; exit 1; }
  fi
  if [[ -d $dir/node_modules/vscode-textmate && -d $dir/node_modules/vscode-oniguruma ]]; then return 0; fi
  echo "install-deps: npm ci in $dir"
  local npm_log
  npm_log=$(mktemp)
  if ! (cd "$dir" && npm ci --no-audit --no-fund) >"$npm_log" 2>&1; then
    cat "$npm_log" >&2
    echo "install-deps: npm ci failed (log above)" >&2
    exit 1
  fi
  rm -f "$npm_log"
}
cd "$(dirname "$0")/.."

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  npm_packages
  exit 0
fi


echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
log=$(mktemp)
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (log above)" >&2
  exit 1
fi
rm -f "$log"
npm_packages
echo "install-deps: done"
