// Helpers shared by the language tests: compile text with the standard
// library's signatures plus a few test-only ops, and look at the result.
#pragma once

#include <optional>
#include <string>

#include "engine/graph.hpp"
#include "engine/op_registry.hpp"
#include "lang/compiler.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

namespace pipette::test {

inline const OpRegistry& registry() {
  return stdlib::builtin_signatures();
}

struct Compiled {
  std::optional<Graph> graph;
  std::string diagnostics;  // rendered, without colour
  size_t errors = 0;
  size_t warnings = 0;
};

inline Compiled compile(const std::string& text, lang::CompileOptions options = {}) {
  lang::Compiler c(registry(), std::move(options));
  Compiled out;
  out.graph = c.compile_text("test.pipe", text);
  out.diagnostics = c.render_diagnostics(false);
  out.errors = c.diagnostics().error_count();
  out.warnings = c.diagnostics().warning_count();
  return out;
}

inline size_t count_op(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (auto& node : g.nodes) n += node.op == op;
  return n;
}

}  // namespace pipette::test
