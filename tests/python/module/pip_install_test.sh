#!/usr/bin/env bash
# `pip install .` from the source tree into a fresh virtual environment whose
# torch is PyPI's, then the installed package used from another directory.
#   pip_install_test.sh SOURCE_DIR PYPI_PYTHON
# PYPI_PYTHON is scripts/torch2.sh's venv: its torch (with CUDA, about 5 GB)
# and the build backend (scikit-build-core, pybind11) are what the fresh
# environment sees, through a .pth, rather than downloading them again; its
# own site-packages start empty of pipette. The build is a full one (tests
# and benchmarks off): minutes. Exit 77 (skipped) without that Python.
set -euo pipefail
src=$1 pypi=${2:-}
if [[ ! -x $pypi ]] || ! "$pypi" -c 'import torch, scikit_build_core, pybind11' 2>/dev/null; then
  echo "SKIPPED: no Python with PyPI's torch and scikit-build-core ($pypi): scripts/torch2.sh makes it" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=$("$pypi" -c 'import sys; print(sys._base_executable)')
"$base" -m venv "$tmp/venv"
site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$pypi" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/pypi-torch.pth"
echo "pip install . (a full build: several minutes)"
start=$SECONDS
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$tmp/venv/bin/pip" install -q --disable-pip-version-check \
  --no-build-isolation --no-deps -C build-dir="$tmp/build" "$src" >"$tmp/pip.log" 2>&1 ||
  { tail -n 40 "$tmp/pip.log"; echo "FAIL: pip install ."; exit 1; }
echo "built and installed in $((SECONDS - start)) s"
cd "$tmp"
"$tmp/venv/bin/python" - "$site" <<'PY'
import os, subprocess, sys, torch
site = sys.argv[1]
import pipette
here = os.path.dirname(pipette.__file__)
assert here == os.path.join(site, "pipette"), here
assert torch.__version__.startswith("2."), torch.__version__
exe = os.path.join(here, "bin", "pipette")
print(subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.strip())
x = torch.arange(6.0).view(2, 3)
y = pipette.ops.tensor.reshape(x, [3, 2])
assert y.data_ptr() == x.data_ptr()
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3)).eval()
images = torch.rand(2, 1, 2, 3)
a = pipette.ops.attr.saliency(net, images, target=0)
images.requires_grad_(True)
net(images)[:, 0].sum().backward()
assert torch.allclose(a, images.grad.abs()), "saliency is not |d output / d input|"
# A plugin from the wheel's lib/pipette/plugins, scanned by the wheel's own pipette.
tags = pipette.ops.prime.image_tags(torch.rand(6, 1, 8, 8))
assert len(tags["names"]) == 12
with open("s.pipe", "w") as f:
    f.write('report "n" = tensor.sum(tensor.random([3], seed=1))\n')
r = pipette.run("s.pipe")
assert r.ok and r.out.is_dir(), r
print("ok: pipette", pipette.__version__, "from", here, "with torch", torch.__version__)
PY
