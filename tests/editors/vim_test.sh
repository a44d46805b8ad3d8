#!/usr/bin/env bash
# Loads editors/vim headless (vim -es) on tests/editors/sample.pipe and checks
# it with vim_test.vim. Skips (77) where Vim is not installed.
set -euo pipefail
src=$1
command -v vim >/dev/null || { echo "SKIP: vim not installed"; exit 77; }
out=$(vim -u NONE -N -es -i NONE --cmd "set rtp^=$src/editors/vim" --cmd 'filetype plugin indent on' \
      --cmd 'syntax on' -S "$src/tests/editors/vim_test.vim" "$src/tests/editors/sample.pipe" 2>&1) && rc=0 || rc=$?
echo "$out"
[[ $rc -eq 0 && "$out" == *ok* ]]
