#!/usr/bin/env bash
# Loads editors/emacs/pipe-mode.el in `emacs --batch` and checks it with
# emacs_test.el. Skips (77) where Emacs is not installed.
set -euo pipefail
src=$1
command -v emacs >/dev/null || { echo "SKIP: emacs not installed"; exit 77; }
cd "$src"
emacs --batch -Q -L editors/emacs -l tests/editors/emacs_test.el \
  tests/editors/sample.pipe tests/editors/sample.pipe examples/*.pipe stdlib/modules/*.pipe
# The mode byte-compiles without a single warning.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp editors/emacs/pipe-mode.el "$tmp/"
emacs --batch -Q --eval '(setq byte-compile-error-on-warn t)' -f batch-byte-compile "$tmp/pipe-mode.el"
echo "ok: byte-compiles cleanly"
