#!/usr/bin/env bash
# Renders docs/images/report-{quickstart,failed,compare}.png: the pages the
# browser test (tests/report/report_browser_test.sh) loads in headless
# Chromium, kept for docs/running.md. Run it after changing how pages look.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "needs Debian's chromium (apt-get install chromium)" >&2; exit 1; }
PIPETTE_SCREENSHOTS=$PWD/docs/images bash tests/report/report_browser_test.sh "${1:-build/cli/pipette}" .
echo "wrote docs/images/report-quickstart.png, report-failed.png, report-compare.png"
