#!/usr/bin/env bash
# The Python module's pytest suite.
#   run_pytest.sh PACKAGE_DIR PYTHON [PEERS_PYTHON]
# PACKAGE_DIR holds the built `pipette` package; PEERS_PYTHON, when it exists
# (build/python-peers: Debian's Python with Captum), is used instead of
# PYTHON so that the Captum tests run in the same process. Without Captum
# they are skipped, and pytest's summary says so.
set -euo pipefail
package=$1 python=$2 peers=${3:-}
[[ -n $peers && -x $peers ]] && python=$peers
here=$(cd "$(dirname "$0")" && pwd)
cd "$(mktemp -d)"
trap 'rm -rf "$PWD"' EXIT
export PYTHONPATH=$package${PYTHONPATH:+:$PYTHONPATH}
exec "$python" -m pytest -q -rs -p no:cacheprovider "$here"
