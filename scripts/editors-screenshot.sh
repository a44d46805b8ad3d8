#!/usr/bin/env bash
# Renders docs/images/editors-highlighting.png: examples/explain_fashion.pipe
# tokenized by VS Code's TextMate engine with the generated grammar, coloured
# like the Dark+ theme, screenshotted by headless Chromium. Not part of the
# build or the tests (Chromium is large); run it after changing the grammar.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "needs Debian's chromium (apt-get install chromium)" >&2; exit 1; }
file=${1:-examples/explain_fashion.pipe}
tmp=$(mktemp -d)
node tests/editors/textmate/export_html.js editors/vscode/syntaxes/pipe.tmLanguage.json "$file" > "$tmp/code.html"
lines=$(wc -l < "$file")
height=$(( lines * 20 + 32 ))
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1100,"$height" --screenshot="$tmp/shot.png" "file://$tmp/code.html" >/dev/null 2>&1
mkdir -p docs/images
cp "$tmp/shot.png" docs/images/editors-highlighting.png
rm -rf "$tmp"
echo "wrote docs/images/editors-highlighting.png"
