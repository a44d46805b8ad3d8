# What the command-line tests share, sourced with the pipette binary as $1:
# a scratch directory they work in (removed at exit, also when a test left
# it read-only), a plugin registry of their own and no user plugins, and
# `expect`, which runs a command and checks its exit status.
set -u
PIPETTE=$1
fail=0
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
# Never touch the user's plugin registry cache or pick up their plugins.
export PIPETTE_REGISTRY=$tmp/registry.xml
unset PIPETTE_PLUGIN_PATH
# Runs keep their cache and run store in the project's .pipette/, found from
# the working directory (cli/project_dir.hpp): work in the scratch directory,
# which (unlike /tmp) is not world-writable.
cd "$tmp" || exit 1

# expect STATUS DESCRIPTION -- command...: stdout in $tmp/out, stderr in $tmp/err.
expect() {
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

# expect_error DESCRIPTION MESSAGE -- command...: the command fails (exit 1)
# and its stderr holds MESSAGE (a fixed string).
expect_error() {
  local what=$1 message=$2
  shift 3
  expect 1 "$what" -- "$@"
  if ! grep -qF -- "$message" "$tmp/err"; then
    echo "FAIL: $what: stderr lacks: $message"; cat "$tmp/err"; fail=1
  fi
}

# need_python PYTHON CHECK WHAT: skip the test (exit 77, ctest's SKIP_RETURN_CODE)
# unless PYTHON runs the Python statement CHECK (imports of the peers it needs).
need_python() {
  if [[ -z $1 || ! -x $1 ]] || ! "$1" -c "$2" 2>/dev/null; then
    echo "skip: no Python with $3 (bash scripts/torch2.sh makes one)"
    exit 77
  fi
}
