#!/usr/bin/env bash
# The SDK end to end, as a third party would use it: install pipette into a
# temporary prefix, build examples/hello-plugin out of tree with
# find_package(Pipette), install the plugin into that prefix, then run a script
# that uses it with the installed pipette (found in the installed plugin dir,
# no --plugin-path).
#   sdk_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PIPETTE_REGISTRY=$tmp/registry.xml
unset PIPETTE_PLUGIN_PATH

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
test -x "$tmp/prefix/bin/pipette"
test -f "$tmp/prefix/include/pipette/engine/plugin_api.hpp"
# Private headers stay private.
test ! -e "$tmp/prefix/include/pipette/engine/executor.hpp"
test -f "$tmp/prefix/lib/cmake/Pipette/PipetteConfig.cmake"
# The first-party plugins are installed; nothing of the test suite's own plugins leaks in.
test "$(ls -A "$tmp/prefix/lib/pipette/plugins" | tr '\n' ' ')" = "libpipette-localize.so libpipette-prime.so libpipette-restor.so libpipette-watermark.so "

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src/examples/hello-plugin" -B "$tmp/hello" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/hello" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
cmake --install "$tmp/hello" >/dev/null
test -f "$tmp/prefix/lib/pipette/plugins/libpipette-hello.so"

pipette=$tmp/prefix/bin/pipette
"$pipette" plugins list | tee "$tmp/list.txt"
grep -q '^hello  *0.1.0  *2 ops' "$tmp/list.txt"
grep -q '^prime  *0.1.0' "$tmp/list.txt"
grep -q '^watermark  *0.1.0' "$tmp/list.txt"
"$pipette" plugins inspect hello | grep -q 'hello.scale(x: tensor, factor: float = 2.0) -> tensor'
"$pipette" check "$src/examples/hello-plugin/hello.pipe"
"$pipette" run "$src/examples/hello-plugin/hello.pipe" --out "$tmp/out" --no-cache --set who=sdk
grep -q '"greeting": "hello, sdk!"' "$tmp/out/report.json"
grep -q '"check": 0.0' "$tmp/out/report.json"
echo "sdk test: ok"
