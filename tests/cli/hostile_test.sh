#!/usr/bin/env bash
# What a hostile or careless user does to pipette from the shell, and what must
# hold: nothing outside the output directory changes, nothing pipette did not
# write is deleted, no run ends in abort() or loses its record, every refusal
# says why. One check per class of defect (docs/running.md, "What pipette
# guarantees").
#   hostile_test.sh PIPETTE_BINARY
source "$(dirname "$0")/harness.sh" "$1"

ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; shift; for f in "$@"; do [[ -f $f ]] && { echo "--- $f"; head -c 3000 "$f"; echo; }; done; fail=1; }
# run STATUS DESCRIPTION -- command...: the exit status must be STATUS (never 134, abort).
run() {
  local want=$1 what=$2
  shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  if [[ $got -ne $want ]]; then bad "$what: exit $got, wanted $want" out.txt err.txt; return 1; fi
  ok "$what"
}
has() { grep -qF -- "$2" "$1" || { bad "$1 lacks: $2" "$1"; return 1; }; }
snapshot() { (cd "$1" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %Y' 2>/dev/null) | md5sum; }

cat >small.pipe <<'EOF'
let r = tensor.random([4, 4])
report "r" = r
report "s" = tensor.sum(r)
EOF

# --- 1. cache clean deletes only what pipette wrote, in a directory it marked.
mkdir thesis && echo keep >thesis/thesis.txt
run 2 "cache clean refuses a directory that is not a pipette cache" -- "$PIPETTE" cache clean --cache thesis
has err.txt "not marked as a pipette cache"
[[ -f thesis/thesis.txt ]] || bad "cache clean deleted a file it did not write"
run 2 "run refuses --cache pointing at somebody's directory" -- "$PIPETTE" run small.pipe --cache thesis --out o-thesis
has err.txt "is not a pipette cache"
[[ $(ls thesis) == thesis.txt ]] || bad "run wrote into a foreign --cache"
run 0 "a run creates and marks its cache" -- "$PIPETTE" run small.pipe --cache c1 --out o1
has c1/CACHEDIR.TAG "Signature: 8a477f597d28d172789f06886806bc55"
echo mine >c1/notes.txt
run 0 "cache clean of a marked cache" -- "$PIPETTE" cache clean --cache c1
has out.txt "removed 2 entries"
has out.txt "left 1 file that pipette did not write"
[[ -f c1/notes.txt ]] || bad "cache clean deleted notes.txt"

# --- 9. temporary files of killed writers are counted and cleaned.
"$PIPETTE" run small.pipe --cache c2 --out o2 >/dev/null 2>&1
fan=$(ls -d c2/??/ | head -1)
echo half >"${fan}0123456789abcdef.entry.tmp999999999-0"
touch -d '2 hours ago' "${fan}0123456789abcdef.entry.tmp999999999-0"
run 0 "cache stats counts stale temporary files" -- "$PIPETTE" cache stats --cache c2
has out.txt "1 temporary file of writers that died"
run 0 "cache clean removes them" -- "$PIPETTE" cache clean --cache c2
has out.txt "and 1 stale temporary files"
[[ -z $(find c2 -name '*.tmp*') ]] || bad "a stale temporary file survived cache clean"

# --- 5 and 12. --out: a file, a foreign directory, an earlier run.
echo data >afile
run 2 "--out naming a regular file is an error, not an abort" -- "$PIPETTE" run small.pipe --out afile
has err.txt "is a file, not a directory"
[[ $(cat afile) == data ]] || bad "--out overwrote a file"
mkdir foreign && echo mine >foreign/results.csv
before=$(snapshot foreign)
run 2 "--out refuses a non-empty directory that is not a run" -- "$PIPETTE" run small.pipe --out foreign
has err.txt "--force"
[[ $(snapshot foreign) == "$before" ]] || bad "a refused --out was changed"
run 0 "--force writes there anyway" -- "$PIPETTE" run small.pipe --out foreign --force
[[ $(cat foreign/results.csv) == mine ]] || bad "--force clobbered an unrelated file"
run 0 "an earlier run's directory is reused without --force" -- "$PIPETTE" run small.pipe --out o1
mkdir -p blocker && "$PIPETTE" run small.pipe --out blocker >/dev/null 2>&1 && rm -rf blocker/reports && echo x >blocker/reports
run 1 "a file where reports/ should be fails the run, cleanly" -- "$PIPETTE" run small.pipe --out blocker
has err.txt "report 'r' could not be written"
has blocker/report.json '"status": "failed"'

# --- 5, 11. a 256-character report name: a distinct, legal file.
long=$(printf 'n%.0s' $(seq 256))
printf 'report "%s" = tensor.random([3])\nreport "%sX" = tensor.random([2])\n' "$long" "$long" >long.pipe
run 0 "256-character report names" -- "$PIPETTE" run long.pipe --out olong
[[ $(ls olong/reports | wc -l) -eq 2 ]] || bad "long report names did not get two files" err.txt

# --- 5, 6. a full disk (a file-size limit stands in for it).
cat >big.pipe <<'EOF'
let r = tensor.random([512, 1024])
report "big" = r
report "s" = tensor.sum(r)
EOF
(ulimit -f 1000; "$PIPETTE" run big.pipe --out ofull) >out.txt 2>err.txt
st=$?
[[ $st -eq 1 ]] && ok "a full disk fails the run with status 1" || bad "full disk: exit $st" err.txt
has err.txt "results cannot be stored in the cache"
has err.txt "report 'big' could not be written"
has ofull/report.json '"status": "failed"'
"$PIPETTE" runs >out.txt 2>&1; grep -q "big-.* failed" out.txt && ok "the run is recorded as failed" || bad "no failed run recorded" out.txt
[[ $(grep -c "cannot be stored in the cache" err.txt) -eq 1 ]] || bad "the cache warning was not said exactly once" err.txt

# --- 6. a cache that cannot be written costs only caching.
run 0 "an unwritable cache: the run finishes" -- "$PIPETTE" run small.pipe --cache afile/cache --out onocache
has err.txt "cannot be written"
has onocache/report.json '"s":'

# --- 7. eight concurrent first runs on a fresh .pipette/.
mkdir -p sweep/.pipette && cp small.pipe sweep/ && (cd sweep && for i in 1 2 3 4 5 6 7 8; do "$PIPETTE" run small.pipe --out "o$i" >/dev/null 2>"e$i" & done; wait)
n=$(cd sweep && "$PIPETTE" runs | tail -n +2 | wc -l)
[[ $n -eq 8 ]] && ok "8 concurrent first runs: 8 rows" || bad "8 concurrent first runs recorded $n" sweep/e1 sweep/e2

# --- 8. SIGTERM is a stop, not a loss.
cat >long_train.pipe <<'EOF'
let net = train.classifier(arch="mlp", data=data.fashion_mnist(split="train", limit=2000), epochs=500)
report "model" = net.model
report "one" = 1
EOF
"$PIPETTE" run long_train.pipe --out oterm --no-cache >out.txt 2>err.txt &
pid=$!
for _ in $(seq 60); do [[ -f oterm/.pipette-run ]] && break; sleep 0.2; done
sleep 2
kill -TERM $pid
wait $pid
st=$?
[[ $st -eq 143 ]] && ok "SIGTERM: exit 143" || bad "SIGTERM: exit $st" err.txt
has oterm/report.json '"status": "interrupted"'
has err.txt "stopped before they were computed"

# --- 10. symbolic links in the output directory are not followed.
mkdir outside
"$PIPETTE" run small.pipe --out osym >/dev/null 2>&1
rm -rf osym/reports && ln -s ../outside osym/reports
run 1 "a symlinked reports/ is refused" -- "$PIPETTE" run small.pipe --out osym
has err.txt "is a symbolic link"
[[ -z $(ls outside) ]] || bad "a report was written outside the output directory"
printf 'viz.curve(tensor.random([5]), path="plot.svg")\n' >svg.pipe
"$PIPETTE" run svg.pipe --out osvg >/dev/null 2>&1
echo precious >victim.txt
ln -sf ../victim.txt osvg/plot.svg
run 0 "an .svg over a symlink replaces the link" -- "$PIPETTE" run svg.pipe --out osvg
[[ $(cat victim.txt) == precious ]] || bad "the .svg output overwrote the symlink's target"

# --- 11. two outputs never share a file.
printf 'let r = tensor.random([2, 2])\nreport "a b" = r\nreport "a_b" = tensor.sum(r)\n' >clash.pipe
run 1 "reports whose files would collide are a compile error" -- "$PIPETTE" check clash.pipe
has err.txt 'would share the file reports/a_b.pt'
printf 'save(tensor.random([2]), "report.json")\n' >clash2.pipe
run 1 "save over report.json is a compile error" -- "$PIPETTE" check clash2.pipe
printf 'let r = tensor.random([2, 2])\nreport "two" = [r, tensor.mul(r, 2)]\nreport "two_1" = tensor.mul(r, 3)\n' >two.pipe
run 0 "a list report and a report named like its second file" -- "$PIPETTE" run two.pipe --out otwo
[[ -f otwo/reports/two/0.pt && -f otwo/reports/two/1.pt && -f otwo/reports/two_1.pt ]] \
  && ok "three tensors, three files" || bad "report files" err.txt

# --- 18. out-of-range numbers are refused, not wrapped.
for seed in -1 18446744073709551616 1e23 9223372036854775808; do
  run 2 "--seed $seed is refused" -- "$PIPETTE" run small.pipe --seed "$seed" --out oseed
done
run 0 "--seed 9223372036854775807 is the largest" -- "$PIPETTE" run small.pipe --seed 9223372036854775807 --out oseed
for b in nan inf 1e30G -5M 0; do
  run 2 "--memory-budget $b is refused" -- "$PIPETTE" run small.pipe --memory-budget "$b" --out obudget
done

# --- 18. what came from a script is printed with control characters escaped.
printf 'report "evil\033[2J\033]0;owned\007" = 1\n' >escape.pipe
"$PIPETTE" run escape.pipe --out oesc >/dev/null 2>&1
"$PIPETTE" runs show "$("$PIPETTE" runs | awk '/^escape-/ {print $1; exit}')" >out.txt 2>&1
if grep -q $'\033' out.txt; then bad "runs show printed a raw escape sequence" out.txt; else ok "runs show escapes control characters"; fi
has out.txt 'evil\x1b[2J'

# --- 18. a damaged entry is reported once.
"$PIPETTE" run small.pipe --cache c3 --out o3 >/dev/null 2>&1
for e in c3/??/*.entry; do printf 'XXXXXXXX' | dd of="$e" bs=1 seek=60 conv=notrunc 2>/dev/null; done
"$PIPETTE" run small.pipe --cache c3 --out o3 >out.txt 2>err.txt
n=$(grep -c "is damaged" err.txt)
[[ $n -eq 2 ]] && ok "each damaged entry is reported once" || bad "damaged-entry warnings: $n for 2 entries" err.txt

# --- 13. integrated gradients with thousands of Gauss-Legendre steps starts at once.
cat >ig.pipe <<'EOF'
let d = data.fashion_mnist(split="test", limit=2)
let net = train.classifier(arch="mlp", data=data.fashion_mnist(split="train", limit=64), epochs=1).model
report "ig" = tensor.sum(attr.integrated_gradients(net, d.images, target=d.labels, steps=6000))
EOF
run 0 "IG with 6000 Gauss-Legendre steps" -- timeout 120 "$PIPETTE" run ig.pipe --out oig

exit $fail
