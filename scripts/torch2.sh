#!/usr/bin/env bash
# The second toolchain: PyTorch 2.x from PyPI (pinned in torch2-requirements.txt,
# CUDA-enabled) in a virtual environment under build-torch2/venv, and pipette
# built against its LibTorch in build-torch2/build, with CUDA on: every
# PIPETTE_WITH_CUDA path compiles and links, though nothing here has a GPU to
# run it. The default build (scripts/build.sh, ./build) uses Debian's LibTorch
# 1.13; README.md says why.
#   bash scripts/torch2.sh            # install (once) and build
# Idempotent: an up-to-date environment and build cost seconds. Extra arguments
# go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/build-torch2
venv=$root/venv
req=scripts/torch2-requirements.txt
lock=scripts/torch2-constraints.txt

# A venv of the Python first on PATH (not Debian's, whose python3-torch is 1.13).
python=${PIPETTE_TORCH2_PYTHON:-python3}
if [[ ! -x $venv/bin/python ]]; then
  echo "torch2: creating $venv"
  "$python" -m venv "$venv"
fi
stamp=$venv/.installed-requirements
if ! cat "$req" "$lock" | cmp -s - "$stamp"; then
  echo "torch2: pip install -r $req -c $lock (PyTorch with CUDA: about 5 GB, once)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" -c "$lock"
  cat "$req" "$lock" > "$stamp"
fi

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
torch_dir=$site/torch
cuda=$site/nvidia/cu13
# NVIDIA's wheels lay the toolkit out as include/, lib/ (versioned .so only)
# and bin/: CMake's CUDA detection and nvcc's own profile want lib64/ and
# unversioned libraries, as a CUDA install has them.
[[ -e $cuda/lib64 ]] || ln -s lib "$cuda/lib64"
for f in "$cuda"/lib/*.so.*; do
  base=$(basename "$f")
  [[ -e $cuda/lib/${base%%.so.*}.so ]] || ln -s "$base" "$cuda/lib/${base%%.so.*}.so"
done

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $root/build/CMakeCache.txt ]]; then
  # The torch folder itself goes on the prefix path too: TorchConfig would
  # otherwise find Debian's /usr/lib libtorch.so before its own (CMakeLists.txt
  # refuses that mix). No GPU to detect an architecture from: name one (the
  # project's GPU machines are H200s, sm_90); pipette has no CUDA kernels of its own.
  cmake -S . -B "$root/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$torch_dir;$torch_dir/share/cmake" \
    -DCUDA_TOOLKIT_ROOT_DIR="$cuda" -DCUDAToolkit_ROOT="$cuda" -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" \
    -DTORCH_CUDA_ARCH_LIST=9.0 -DPIPETTE_PYTHON="$venv/bin/python" -DPIPETTE_MODULE_PYTHON="$venv/bin/python" "$@"
elif (($#)); then
  cmake -S . -B "$root/build" "$@"
fi
cmake --build "$root/build" --parallel "$(nproc)"
