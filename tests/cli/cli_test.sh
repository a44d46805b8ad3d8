#!/usr/bin/env bash
# End-to-end checks of the pipette command line: exit statuses, output formats.
#   cli_test.sh PIPETTE_BINARY SOURCE_DIR
set -u
PIPETTE=$1
SRC=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # expect STATUS DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL: $what: exit $got, wanted $want"; cat "$tmp/out" "$tmp/err"; fail=1
  else
    echo "ok: $what"
  fi
}

expect 0 "--version" -- "$PIPETTE" --version
grep -q "^pipette " "$tmp/out" || { echo "FAIL: --version output"; fail=1; }
expect 0 "check quickstart" -- "$PIPETTE" check "$SRC/examples/quickstart.pipe"
expect 0 "graph dot" -- "$PIPETTE" graph "$SRC/examples/quickstart.pipe"
grep -q "^digraph pipette" "$tmp/out" || { echo "FAIL: dot output"; fail=1; }
if command -v dot >/dev/null; then
  "$PIPETTE" graph "$SRC/examples/quickstart.pipe" | dot -Tsvg >"$tmp/q.svg" && grep -q "<svg" "$tmp/q.svg" \
    && echo "ok: DOT renders with Graphviz" || { echo "FAIL: dot -Tsvg"; fail=1; }
fi
expect 0 "graph json with --set" -- "$PIPETTE" graph "$SRC/examples/quickstart.pipe" --format json --set steps=64
grep -q '"steps": 64' "$tmp/out" || { echo "FAIL: --set not applied"; fail=1; }
if [[ -x /usr/bin/python3 ]]; then
  "$PIPETTE" graph "$SRC/examples/quickstart.pipe" --format json | /usr/bin/python3 -c \
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
expect 2 "bad --set syntax is status 2" -- "$PIPETTE" check "$SRC/examples/quickstart.pipe" --set oops
expect 0 "ops lists signatures" -- "$PIPETTE" ops attr
grep -q "attr.integrated_gradients(model: model" "$tmp/out" || { echo "FAIL: ops output"; fail=1; }
expect 0 "help for a command" -- "$PIPETTE" help graph
grep -q -- "--format" "$tmp/out" || { echo "FAIL: help graph"; fail=1; }

exit $fail
