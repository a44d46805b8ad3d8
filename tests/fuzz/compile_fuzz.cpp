// Fuzz entry point: arbitrary bytes through the whole front end (parse,
// elaboration, passes, JSON/DOT). `import "x"` resolves against the working
// directory and no module path is set, so inputs can only read files, never
// write them. It must never crash, hang or blow up memory: every failure is a
// diagnostic.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/op_registry.hpp"
#include "lang/compiler.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

namespace {
const pipette::OpRegistry& registry() {
  return pipette::stdlib::builtin_signatures();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // longer inputs only test the same paths slower
  pipette::lang::CompileOptions o;
  o.max_nodes = 5000;  // keeps pathological expansions fast under the fuzzer
  pipette::lang::Compiler c(registry(), o);
  auto g = c.compile_text("fuzz.pipe", std::string(reinterpret_cast<const char*>(data), size));
  (void)c.render_diagnostics(false);
  if (g) {
    (void)pipette::graph_to_json(*g);
    (void)pipette::graph_to_dot(*g);
  }
  return 0;
}
