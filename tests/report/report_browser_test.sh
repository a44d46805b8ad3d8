#!/usr/bin/env bash
# report.html and `pipette runs compare` in a real browser (Debian's chromium,
# headless): the quickstart's page, a failed run's, a run whose strings try to
# be markup, a run that saved 100 pictures, and a compare page each load with
# no console message at all (the pages log nothing, so any message is an error
# or an injected script), and their DOM holds every report, picture and node
# that report.json lists (dom_check.py). A page that throws, and one that logs,
# are detected first, so the check itself can fail.
#   report_browser_test.sh PIPETTE SOURCE_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(realpath "$2")
source "$HERE/../cli/harness.sh" "$(realpath "$1")"
PY=/usr/bin/python3
if ! command -v chromium >/dev/null; then
  echo "SKIP: no chromium (scripts/install-deps.sh installs it)"
  exit 77
fi

# load PAGE NAME: the DOM after the page's script ran, in $tmp/NAME.dom, and
# every console line in $tmp/NAME.console; a screenshot in $tmp/NAME.png.
load() {
  local page=$1 name=$2
  timeout 120 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
    --user-data-dir="$tmp/chromium-profile" --dump-dom "file://$page" >"$tmp/$name.dom" 2>"$tmp/$name.log"
  grep -F ':CONSOLE' "$tmp/$name.log" >"$tmp/$name.console"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chromium-profile" \
    --window-size=1200,1800 --screenshot="$tmp/$name.png" "file://$page" >/dev/null 2>&1
}

# quiet NAME: its page loaded and logged nothing.
quiet() {
  if ! grep -q "<meta name=\"generator\" content=\"pipette" "$tmp/$1.dom"; then
    echo "FAIL: $1: the page did not load:"; tail -5 "$tmp/$1.log"; fail=1
  elif [[ -s $tmp/$1.console ]]; then
    echo "FAIL: $1: the page wrote to the console:"; cat "$tmp/$1.console"; fail=1
  else
    echo "ok: $1: no console message"
  fi
  # A screenshot of a page that rendered is more than a blank canvas.
  if [[ ! -s $tmp/$1.png || $(stat -c %s "$tmp/$1.png") -lt 20000 ]]; then
    echo "FAIL: $1: no screenshot, or a blank one"; fail=1
  fi
}

# The check can fail: a page that throws, and one that logs, are caught.
printf '<!DOCTYPE html><p>x</p><script>undefinedFunction()</script>' >"$tmp/throws.html"
printf '<!DOCTYPE html><p>x</p><script>console.error("boom")</script>' >"$tmp/logs.html"
for bad in throws logs; do
  load "$tmp/$bad.html" "$bad"
  if [[ -s $tmp/$bad.console ]]; then echo "ok: control: $bad is caught"; else echo "FAIL: control: $bad is not caught"; fail=1; fi
done

# 1. The quickstart (fewer examples: the page, not the model, is under test).
quick=(--set train_examples=2048 --set examples=64)
expect 0 "quickstart runs" -- "$PIPETTE" run "$SRC/examples/explain_fashion.pipe" "${quick[@]}" --out q1
load "$tmp/q1/report.html" quickstart
quiet quickstart
expect 0 "quickstart page has every report, picture and node" -- \
  $PY "$HERE/dom_check.py" report "$tmp/quickstart.dom" q1/report.json q1
cat "$tmp/out"

# 2. A failed run: one branch fails (its error shown at its line), the others report.
cat >failing.pipe <<'PIPE'
let x = tensor.random([8, 8], seed=1)
report "mean" = tensor.mean(x)
report "loaded" = tensor.load("no-such-file.pt")
save(tensor.clamp(tensor.add(tensor.mul(x, 0.25), 0.5), min=0.0, max=1.0), "x.png")
PIPE
expect 1 "a run with a failing node fails" -- "$PIPETTE" run failing.pipe --out failed
load "$tmp/failed/report.html" failed
quiet failed
expect 0 "failed run's page has its reports, picture, nodes and error" -- \
  $PY "$HERE/dom_check.py" report "$tmp/failed.dom" failed/report.json failed
cat "$tmp/out"
grep -q 'no-such-file.pt' "$tmp/failed.dom" || { echo "FAIL: the error is not on the page"; fail=1; }

# 3. Strings that try to be markup: report names and values with <script>,
#    an <img onerror>, quotes and a control character stay text.
cat >evil.pipe <<'PIPE'
param name: string = "x"
report "<script>console.error('INJECTED-1')</script>" = 1
report "quote\"s and 'apostrophes'" = "<img src=x onerror=console.error('INJECTED-2')>"
report "{name}" = "</td></tr></table><script>console.error('INJECTED-3')</script>"
PIPE
expect 0 "a run with hostile strings runs" -- "$PIPETTE" run evil.pipe --out evil --set "name=ctl"$'\x01'"<b>"
load "$tmp/evil/report.html" evil
quiet evil
expect 0 "hostile strings are shown as text" -- $PY "$HERE/dom_check.py" report "$tmp/evil.dom" evil/report.json evil
cat "$tmp/out"
grep -qF "console.error('INJECTED-1')" "$tmp/evil.dom" || { echo "FAIL: the report name is not shown"; fail=1; }

# 4. A hundred pictures from real photographs: the page stays under 5 MB, with a thumbnail each.
ids=$(seq -s, 1 100)
cat >many.pipe <<PIPE
param levels: list<int> = [$ids]
let photos = data.images(names=["astronaut.png", "chelsea.png", "coffee.png", "coins.png"], size=256).images
for i in levels {
  let noisy = tensor.add(photos, tensor.mul(tensor.random([4, 3, 256, 256], seed=i), tensor.mul(0.002, i)))
  save(tensor.clamp(noisy, min=0.0, max=1.0), "noisy/{i}.png")
}
PIPE
expect 0 "a run saving 100 pictures runs" -- "$PIPETTE" run many.pipe --out many
count=$(find many/noisy -name '*.png' 2>/dev/null | wc -l)
[[ $count -eq 100 ]] || { echo "FAIL: the run saved $count pictures, not 100"; fail=1; }
disk=$(du -sm many/noisy | cut -f1)
page=$(stat -c %s many/report.html)
echo "100 pictures: ${disk} MB on disk, report.html $((page / 1024)) KiB"
if ((page >= 5 * 1024 * 1024)); then echo "FAIL: report.html is $page bytes"; fail=1; fi
load "$tmp/many/report.html" many
quiet many
expect 0 "all 100 pictures are on the page" -- $PY "$HERE/dom_check.py" report "$tmp/many.dom" many/report.json many
cat "$tmp/out"

# 5. Two quickstart runs compared (IG's steps changed).
expect 0 "a second quickstart run" -- "$PIPETTE" run "$SRC/examples/explain_fashion.pipe" "${quick[@]}" --set steps=8 --out q2
a=$(/usr/bin/python3 -c 'import json; print(json.load(open("q1/report.json"))["run"]["id"])')
b=$(/usr/bin/python3 -c 'import json; print(json.load(open("q2/report.json"))["run"]["id"])')
expect 0 "runs compare writes a page" -- "$PIPETTE" runs compare "$a" "$b" -o compare.html
load "$tmp/compare.html" compare
quiet compare
expect 0 "compare page has both runs' reports, pictures and nodes" -- \
  $PY "$HERE/dom_check.py" compare "$tmp/compare.dom" q1/report.json q2/report.json
cat "$tmp/out"

# Screenshots for docs/images, when asked (scripts/report-screenshots.sh).
if [[ -n ${PIPETTE_SCREENSHOTS:-} ]]; then
  mkdir -p "$PIPETTE_SCREENSHOTS"
  cp "$tmp/quickstart.png" "$PIPETTE_SCREENSHOTS/report-quickstart.png"
  cp "$tmp/failed.png" "$PIPETTE_SCREENSHOTS/report-failed.png"
  cp "$tmp/compare.png" "$PIPETTE_SCREENSHOTS/report-compare.png"
fi
exit $fail
