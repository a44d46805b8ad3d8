#!/usr/bin/env bash
# Makes the Python module of a build importable: Debian's Python (for ./build,
# which links Debian's LibTorch like python3-torch) gets a .pth file in its
# site-packages naming build/python, so `/usr/bin/python3 -c "import pipette"`
# works with no environment variable, as `pip install -e` would; and
# build/python-peers, a venv over Debian's packages with the pinned peers of
# scripts/python-requirements.txt, runs the module's tests beside Captum.
#   python-module.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
package=$(realpath "$build/python")
if [[ ! -f $package/pipette/__init__.py ]]; then
  echo "python-module: $build has no Python module (see the CMake output: pybind11-dev, python3-dev)" >&2
  exit 1
fi
site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
pth=$site/pipette-build.pth
if [[ ! -f $pth || $(cat "$pth") != "$package" ]]; then
  if mkdir -p "$site" 2>/dev/null && echo "$package" >"$pth" 2>/dev/null; then
    echo "python-module: /usr/bin/python3 imports pipette from $package ($pth)"
  else
    echo "python-module: cannot write $pth (not root?): use PYTHONPATH=$package" >&2
  fi
fi
peers=$build/python-peers
stamp=$peers/.installed-requirements
if [[ ! -f $stamp ]] || ! cmp -s scripts/python-requirements.txt "$stamp"; then
  [[ -x $peers/bin/python ]] || /usr/bin/python3 -m venv --system-site-packages "$peers"
  "$peers/bin/pip" install -q --disable-pip-version-check --no-deps -r scripts/python-requirements.txt
  cp scripts/python-requirements.txt "$stamp"
  echo "python-module: peers for the module's tests in $peers"
fi
