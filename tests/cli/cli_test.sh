#!/usr/bin/env bash
# End-to-end checks of the pipette command line: exit statuses, output formats.
#   cli_test.sh PIPETTE_BINARY SOURCE_DIR TEST_PLUGINS_DIR
SRC=$2
PLUGINS=$3
source "$(dirname "$0")/harness.sh" "$1"

expect 0 "--version" -- "$PIPETTE" --version
grep -q "^pipette " "$tmp/out" || { echo "FAIL: --version output"; fail=1; }
expect 0 "check quickstart" -- "$PIPETTE" check "$SRC/examples/explain_fashion.pipe"
expect 0 "check compare_methods" -- "$PIPETTE" check "$SRC/examples/compare_methods.pipe"
expect 0 "check failure_modes (the prime plugin from this build)" -- "$PIPETTE" check "$SRC/examples/failure_modes.pipe"
expect 0 "check watermark_robustness (the watermark plugin)" -- "$PIPETTE" check "$SRC/examples/watermark_robustness.pipe"
expect 0 "graph dot" -- "$PIPETTE" graph "$SRC/examples/explain_fashion.pipe"
grep -q "^digraph pipette" "$tmp/out" || { echo "FAIL: dot output"; fail=1; }
if command -v dot >/dev/null; then
  "$PIPETTE" graph "$SRC/examples/explain_fashion.pipe" | dot -Tsvg >"$tmp/q.svg" && grep -q "<svg" "$tmp/q.svg" \
    && echo "ok: DOT renders with Graphviz" || { echo "FAIL: dot -Tsvg"; fail=1; }
fi
expect 0 "graph json with --set" -- "$PIPETTE" graph "$SRC/examples/explain_fashion.pipe" --format json --set steps=64
grep -q '"steps": 64' "$tmp/out" || { echo "FAIL: --set not applied"; fail=1; }
if [[ -x /usr/bin/python3 ]]; then
  "$PIPETTE" graph "$SRC/examples/explain_fashion.pipe" --format json | /usr/bin/python3 -c \
    'import json,sys; g=json.load(sys.stdin); assert g["format"]=="pipette-graph" and g["nodes"]' \
    && echo "ok: JSON parses in Python" || { echo "FAIL: JSON"; fail=1; }
fi
printf 'let x = foo(\n' >"$tmp/bad.pipe"
expect 1 "check reports errors with status 1" -- "$PIPETTE" check "$tmp/bad.pipe"
grep -q "bad.pipe:1:13: error: expected ')'" "$tmp/err" || { echo "FAIL: diagnostic text"; cat "$tmp/err"; fail=1; }
printf 'let x = tensor.random([1])\nreport "r" = 1\n' >"$tmp/warn.pipe"
expect 0 "warnings do not fail check" -- "$PIPETTE" check "$tmp/warn.pipe"
grep -q "warning: unused variable 'x'" "$tmp/err" || { echo "FAIL: warning text"; fail=1; }
expect 2 "missing file is status 2" -- "$PIPETTE" check "$tmp/nope.pipe"
expect 2 "bad usage is status 2" -- "$PIPETTE" graph
expect 2 "bad --set syntax is status 2" -- "$PIPETTE" check "$SRC/examples/explain_fashion.pipe" --set oops
# pipette fmt: exit statuses, in-place rewrite, files with errors left alone.
printf 'let   x=tensor.sum( tensor.random([2]) )\nreport "x"=x\n' > "$tmp/messy.pipe"
cp "$tmp/messy.pipe" "$tmp/messy.orig"
expect 1 "fmt --check finds an unformatted file" -- "$PIPETTE" fmt --check "$tmp/messy.pipe"
grep -q "messy.pipe: not formatted" "$tmp/out" || { echo "FAIL: fmt --check message"; fail=1; }
cmp -s "$tmp/messy.pipe" "$tmp/messy.orig" || { echo "FAIL: fmt --check changed the file"; fail=1; }
expect 0 "fmt rewrites in place" -- "$PIPETTE" fmt "$tmp/messy.pipe"
[[ "$(cat "$tmp/messy.pipe")" == $'let x = tensor.sum(tensor.random([2]))\nreport "x" = x' ]] \
  || { echo "FAIL: fmt output"; cat "$tmp/messy.pipe"; fail=1; }
expect 0 "fmt --check passes afterwards" -- "$PIPETTE" fmt --check "$tmp/messy.pipe"
expect 0 "fmt - is a filter" -- bash -c "\"$PIPETTE\" fmt - < \"$tmp/messy.orig\""
grep -q "^let x = tensor.sum" "$tmp/out" || { echo "FAIL: fmt - output"; fail=1; }
printf 'let x = (1\n' > "$tmp/broken.pipe"
cp "$tmp/broken.pipe" "$tmp/broken.orig"
expect 1 "fmt refuses a file with syntax errors" -- "$PIPETTE" fmt "$tmp/broken.pipe"
grep -q "broken.pipe:1:11: error: expected ')'" "$tmp/err" || { echo "FAIL: fmt diagnostics"; cat "$tmp/err"; fail=1; }
cmp -s "$tmp/broken.pipe" "$tmp/broken.orig" || { echo "FAIL: fmt touched a broken file"; fail=1; }
expect 1 "fmt - passes what it cannot format through unchanged" -- bash -c "\"$PIPETTE\" fmt - < \"$tmp/broken.orig\""
cmp -s "$tmp/out" "$tmp/broken.orig" || { echo "FAIL: fmt - lost the text of a broken file"; fail=1; }
expect 2 "fmt of a missing file is status 2" -- "$PIPETTE" fmt "$tmp/nope.pipe"
expect 0 "editors generate into an empty directory" -- "$PIPETTE" editors generate --out "$tmp/editors"
[[ -f "$tmp/editors/vscode/syntaxes/pipe.tmLanguage.json" && -f "$tmp/editors/kate/pipe.xml" ]] \
  || { echo "FAIL: editors generate wrote nothing"; fail=1; }
echo '# edited' >> "$tmp/editors/vim/syntax/pipe.vim"
expect 1 "editors generate --check finds an edited file" -- "$PIPETTE" editors generate --check --out "$tmp/editors"
grep -q "vim/syntax/pipe.vim: differs" "$tmp/out" || { echo "FAIL: drift message"; cat "$tmp/out"; fail=1; }
expect 0 "ops lists signatures" -- "$PIPETTE" ops attr
grep -q "attr.integrated_gradients(model: model" "$tmp/out" || { echo "FAIL: ops output"; fail=1; }
expect 0 "help for a command" -- "$PIPETTE" help graph
grep -q -- "--format" "$tmp/out" || { echo "FAIL: help graph"; fail=1; }

# pipette run: outputs Python opens, failures isolated, exit statuses.
expect 0 "run fashion_stats" -- "$PIPETTE" run "$SRC/examples/fashion_stats.pipe" --out "$tmp/stats" --set examples=50 --cache "$tmp/cache"
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  /usr/bin/python3 - "$tmp/stats" <<'PY' && echo "ok: run outputs open in Python" || { echo "FAIL: run outputs"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
assert r["run"]["status"] == "ok" and r["run"]["params"]["examples"] == 50, r["run"]
assert 0 < r["reports"]["mean_pixel"] < 1
assert torch.load(d + "/mean_image.pt").shape == (1, 28, 28)
assert json.load(open(d + "/summary.json"))["labels_sum"] > 0
PY
fi
expect 0 "a re-run recomputes only the saves; the dataset is not even opened" -- "$PIPETTE" run "$SRC/examples/fashion_stats.pipe" --out "$tmp/stats2" --set examples=50 --cache "$tmp/cache"
grep -q "2 computed, 4 from cache, 0 failed, 0 skipped, 1 not needed" "$tmp/err" || { echo "FAIL: cache re-run"; cat "$tmp/err"; fail=1; }
expect 0 "dry run lists cached nodes" -- "$PIPETTE" run "$SRC/examples/fashion_stats.pipe" --dry-run --set examples=60 --cache "$tmp/cache"
grep -q "7 of 7 nodes would run; 0 come from the cache" "$tmp/out" || { echo "FAIL: dry run"; cat "$tmp/out"; fail=1; }
expect 0 "cache stats" -- "$PIPETTE" cache stats --cache "$tmp/cache"
grep -q "4 entries" "$tmp/out" || { echo "FAIL: cache stats"; cat "$tmp/out"; fail=1; }
printf 'let bad = tensor.load("missing.pt")\nreport "a" = tensor.sum(bad)\nreport "b" = tensor.sum(tensor.random([3]))\n' >"$tmp/fails.pipe"
expect 1 "a failing node makes run exit 1" -- "$PIPETTE" run "$tmp/fails.pipe" --out "$tmp/fails"
grep -q "fails.pipe:1:11: error: in node n0 (tensor.load): cannot open" "$tmp/err" || { echo "FAIL: run error text"; cat "$tmp/err"; fail=1; }
grep -q '"b": ' "$tmp/fails/report.json" || { echo "FAIL: independent report missing"; fail=1; }
grep -q '"missing_reports": \[\s*"a"' <(tr -d '\n' <"$tmp/fails/report.json") || { echo "FAIL: missing_reports"; fail=1; }
# The run store: every run recorded in the project's .pipette/; list, show, diff.
printf 'param k: float = 1\nreport "noise" = tensor.sum(tensor.random([10]))\nreport "k2" = tensor.mul(k, 2)\n' >"$tmp/sweep.pipe"
"$PIPETTE" run "$tmp/sweep.pipe" --out "$tmp/sw1" 2>/dev/null
"$PIPETTE" run "$tmp/sweep.pipe" --out "$tmp/sw2" --set k=3 --seed 5 2>/dev/null
expect 0 "runs lists both" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db"
[[ $(grep -c "^sweep-" "$tmp/out") -eq 2 ]] || { echo "FAIL: runs list"; cat "$tmp/out"; fail=1; }
first=$(awk 'NR==3{print $1}' "$tmp/out"); second=$(awk 'NR==2{print $1}' "$tmp/out")
expect 0 "runs diff" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" diff "$first" "$second"
grep -q "param k .*1.0 -> 3.0" "$tmp/out" && grep -q "report k2 .*2.0 -> 6.0 (+4)" "$tmp/out" && grep -q "report noise" "$tmp/out" \
  || { echo "FAIL: runs diff"; cat "$tmp/out"; fail=1; }
expect 0 "runs show" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" show "$second"
grep -q "status    ok" "$tmp/out" || { echo "FAIL: runs show"; cat "$tmp/out"; fail=1; }
page=$(sed -n 's/^page      //p' "$tmp/out")
[[ -f $page && $page == */report.html ]] && grep -q "<tr class=node>" "$page" ||
  { echo "FAIL: runs show names the run's report.html ($page)"; cat "$tmp/out"; fail=1; }
# runs compare: a page beside the run store, or at -o, never over a file pipette did not write.
expect 0 "runs compare" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" compare "$first" "$second"
cmp_page=$(sed -n 's/^page  //p' "$tmp/out")
[[ $cmp_page == "$tmp/.pipette/compare/"*.html ]] && grep -q "<tr class='param differs'><th>k</th><td>1</td><td>3 <span class=delta>(+2, +200.0 %)</span>" "$cmp_page" \
  && grep -q "<tr class='report differs'><th>k2</th><td>2</td><td>6 <span class=delta>(+4, +200.0 %)</span>" "$cmp_page" \
  || { echo "FAIL: runs compare page ($cmp_page)"; cat "$tmp/out"; fail=1; }
echo "my notes" >"$tmp/notes.html"
expect 2 "runs compare leaves a file it did not write" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" compare "$first" "$second" -o "$tmp/notes.html"
grep -q "is not a page .pipette runs compare. wrote" "$tmp/err" && [[ $(cat "$tmp/notes.html") == "my notes" ]] \
  || { echo "FAIL: runs compare -o over a user's file"; cat "$tmp/err"; fail=1; }
expect 0 "runs compare -o twice replaces its own page" -- sh -c "'$PIPETTE' runs --db '$tmp/.pipette/runs.db' compare $first $second -o '$tmp/c.html' && '$PIPETTE' runs --db '$tmp/.pipette/runs.db' compare $first $second -o '$tmp/c.html'"
mkdir -p "$tmp/other/compare" && cp "$tmp/.pipette/runs.db" "$tmp/other/runs.db"
echo "theirs" >"$tmp/other/compare/$(basename "$cmp_page")"
expect 2 "runs compare's default page is not written over a file pipette did not write" -- \
  "$PIPETTE" runs --db "$tmp/other/runs.db" compare "$first" "$second"
[[ $(cat "$tmp/other/compare/$(basename "$cmp_page")") == theirs ]] || { echo "FAIL: the default page replaced a user's file"; fail=1; }
expect 2 "runs compare -o a directory" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" compare "$first" "$second" -o "$tmp/other"
expect 2 "runs compare needs two runs" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" compare "$first"
expect 0 "--explain says why nodes run again" -- "$PIPETTE" run "$tmp/sweep.pipe" --dry-run --explain --set k=5 --seed 7
grep -q "compared with run sweep-" "$tmp/out" && grep -q "why: parameter 'a' changed: 3.0 -> 5.0" "$tmp/out" \
  && grep -q "why: the run seed changed: 5 -> 7 (a stochastic op)" "$tmp/out" \
  && grep -q "why: input 'x' changed (from n0 tensor.random" "$tmp/out" \
  || { echo "FAIL: --explain"; cat "$tmp/out"; fail=1; }
expect 1 "runs show of an unknown id" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" show nope
# A run directory reused by a later run: the record is shown, not the later run's files.
"$PIPETTE" run "$tmp/sweep.pipe" --out "$tmp/sw1" --set k=7 2>/dev/null
expect 0 "runs compare of a run whose directory was reused" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db" compare "$first" "$second" -o "$tmp/c.html"
grep -q "sw1 now holds run sweep-.*: the record is shown, not its files" "$tmp/c.html" && grep -q "<td>1</td><td>3 " "$tmp/c.html" \
  || { echo "FAIL: runs compare of a reused directory"; grep -o "<tr><th>files</th>.*</tr>" "$tmp/c.html"; fail=1; }

# The quickstart end to end, small: train, explain, score, draw; Python opens the results.
expect 0 "quickstart runs" -- "$PIPETTE" run "$SRC/examples/explain_fashion.pipe" --out "$tmp/q" --cache "$tmp/qcache" \
  --set train_examples=2000 --set examples=16 --set steps=8
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import torch, skimage" 2>/dev/null; then
  /usr/bin/python3 - "$tmp/q" <<'PY' && echo "ok: quickstart outputs open in Python" || { echo "FAIL: quickstart outputs"; fail=1; }
import json, sys, torch
from skimage import io
d = sys.argv[1]
r = json.load(open(d + "/report.json"))["reports"]
assert 0.5 < r["accuracy"] <= 1, r
assert all(0 <= r[k] <= 1 for k in r if k.startswith("deletion")), r
assert all(r[k] > 0 for k in r if k.startswith("sensitivity")), r
m = torch.jit.load(d + "/model.pt")
assert not m.training  # trained, then put in eval mode; m.eval()/m.train() work as on scripted modules
m.train(); m.eval()
assert tuple(m(torch.zeros(3, 1, 28, 28)).shape) == (3, 10)
png = io.imread(d + "/heatmaps.png")  # 3 rows (methods) of 8 heatmaps of 112 px
assert png.shape == (3 * (112 + 6 + 16) + 6, 8 * (112 + 6) + 6, 3), png.shape
svg = open(d + "/deletion_curves.svg").read()
assert svg.count("<polyline") == 3 and "Grad-CAM" in svg
PY
fi

# An op's warning stays on the page of a run that loads the node from the cache,
# said as coming from the run that computed it.
printf 'let m = model.load("%s")\nlet d = data.fashion_mnist(split="test", limit=8)\nreport "auc" = metric.deletion(m, d.images, tensor.mul(d.images, 0.0), target=d.labels, steps=4)\n' "$tmp/q/model.pt" >"$tmp/warns.pipe"
expect 0 "a run whose op warns" -- "$PIPETTE" run "$tmp/warns.pipe" --out "$tmp/w1" --cache "$tmp/wcache"
expect 0 "the same run from the cache" -- "$PIPETTE" run "$tmp/warns.pipe" --out "$tmp/w2" --cache "$tmp/wcache"
/usr/bin/python3 - "$tmp/w1" "$tmp/w2" <<'PY' && echo "ok: warnings of cached nodes" || { echo "FAIL: warnings of cached nodes"; fail=1; }
import json, sys
first, second = (json.load(open(d + "/report.json")) for d in sys.argv[1:])
def warned(r):
    return [(n.get("cached", False), w) for n in r["nodes"] if n["op"] == "metric.deletion" for w in n.get("warnings", [])]
w1, w2 = warned(first), warned(second)
assert len(w1) == 1 and not w1[0][0] and "8 of 8 attributions give every feature the same relevance" in w1[0][1], w1
assert len(w2) == 1 and w2[0][0] and w2[0][1] == "(from the cache; computed in run " + first["run"]["id"] + ") " + w1[0][1], w2
page = open(sys.argv[2] + "/report.html").read()
assert page.count("<li class=warning>") == 1 and "from the cache; computed in run" in page
PY

# Files Python opens: .npy (numpy.load), .csv, .pt.
printf 'let x = tensor.random([3, 4], seed=2)\ntensor.save(x, "x.npy")\ntensor.save(x, "x.csv")\nsave({a: tensor.sum(x, dim=0), b: tensor.max(x, dim=0)}, "t.csv")\n' >"$tmp/files.pipe"
expect 0 "tensor.save and save write .npy and .csv" -- "$PIPETTE" run "$tmp/files.pipe" --out "$tmp/files" --no-cache
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  /usr/bin/python3 - "$tmp/files" <<'PY' && echo "ok: .npy and .csv open in Python" || { echo "FAIL: npy/csv"; fail=1; }
import csv, sys, numpy as np
d = sys.argv[1]
x = np.load(d + "/x.npy")
assert x.shape == (3, 4) and x.dtype == np.float32
rows = np.loadtxt(d + "/x.csv", delimiter=",", dtype=np.float32)
assert np.allclose(rows, x, atol=1e-6), (rows, x)
t = list(csv.DictReader(open(d + "/t.csv")))
assert len(t) == 4 and abs(float(t[0]["a"]) - x[:, 0].sum()) < 1e-5
PY
fi
expect 0 "live progress lines when asked" -- "$PIPETTE" run "$tmp/files.pipe" --out "$tmp/files2" --no-cache --progress live
grep -q "nodes\]" "$tmp/err" || { echo "FAIL: live progress"; cat "$tmp/err"; fail=1; }

# Plugins: found on --plugin-path, type checked from the registry, run in process.
expect 0 "plugins list" -- "$PIPETTE" --plugin-path "$PLUGINS/hello" plugins list
grep -q "^hello  *0.1.0  *2 ops" "$tmp/out" || { echo "FAIL: plugins list"; cat "$tmp/out"; fail=1; }
expect 0 "plugins inspect" -- "$PIPETTE" --plugin-path "$PLUGINS/hello" plugins inspect hello
grep -q "hello.greet(who: string = \"world\") -> string" "$tmp/out" || { echo "FAIL: plugins inspect"; cat "$tmp/out"; fail=1; }
expect 1 "inspect an unknown plugin" -- "$PIPETTE" --plugin-path "$PLUGINS/hello" plugins inspect nope
expect 0 "run a script that uses a plugin" -- env PIPETTE_PLUGIN_PATH="$PLUGINS/hello" "$PIPETTE" run "$SRC/examples/hello-plugin/hello.pipe" --out "$tmp/hello" --no-cache
grep -q '"greeting": "hello, pipette!"' "$tmp/hello/report.json" || { echo "FAIL: plugin run"; fail=1; }
printf 'plugin "helo"\nreport "g" = 1\n' >"$tmp/typo.pipe"
expect 1 "a misspelt plugin name" -- "$PIPETTE" --plugin-path "$PLUGINS/hello" check "$tmp/typo.pipe"
grep -q "typo.pipe:1:8: error: cannot load plugin 'helo': no plugin called 'helo' in the plugin search path; did you mean 'hello'?" "$tmp/err" \
  || { echo "FAIL: plugin typo"; cat "$tmp/err"; fail=1; }
# A plugin that crashes while loading only takes the scanner down.
expect 0 "a crashing plugin is listed as crashed" -- "$PIPETTE" --plugin-path "$PLUGINS/crashes:$PLUGINS/hello" plugins list
grep -q "crashed while loading (signal 11" "$tmp/out" || { echo "FAIL: crashed plugin"; cat "$tmp/out" "$tmp/err"; fail=1; }
grep -q "^hello" "$tmp/out" || { echo "FAIL: good plugin beside a crashing one"; fail=1; }

# Ctrl-C: running ops see cancellation, finished nodes are kept, the run is
# recorded as interrupted, exit status 130.
{
  echo 'let x0 = tensor.random([1000, 1000], seed=1)'
  for i in $(seq 1 400); do echo "let x$i = tensor.mul(x$((i - 1)), 1.0001)"; done
  echo 'report "last" = tensor.sum(x400)'
} >"$tmp/long.pipe"
"$PIPETTE" run "$tmp/long.pipe" --out "$tmp/long" --cache "$tmp/long-cache" -j 1 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do [[ -n "$(ls -A "$tmp/long-cache" 2>/dev/null)" ]] && break; sleep 0.1; done
sleep 0.5
kill -INT "$pid"
wait "$pid"
got=$?
if [[ $got -eq 130 ]] && grep -q '"status": "interrupted"' "$tmp/long/report.json" && grep -q "^interrupted: " "$tmp/err" \
  && grep -q "^not reported (the run was stopped before they were computed): last" "$tmp/err"; then
  echo "ok: SIGINT stops the run cleanly"
else
  echo "FAIL: SIGINT: exit $got"; cat "$tmp/err"; fail=1
fi
expect 0 "the interrupted run is in the run store" -- "$PIPETTE" runs --db "$tmp/.pipette/runs.db"
grep -q "^long-.* interrupted" "$tmp/out" || { echo "FAIL: interrupted run not recorded"; cat "$tmp/out"; fail=1; }
expect 0 "a dry run after the interrupt finds the finished nodes in the cache" -- "$PIPETTE" run "$tmp/long.pipe" --dry-run --cache "$tmp/long-cache"
grep -qE "come from the cache" "$tmp/out" && ! grep -q "; 0 come from the cache" "$tmp/out" \
  || { echo "FAIL: nothing kept after interrupt"; tail -2 "$tmp/out"; fail=1; }

exit $fail
