#include <cstdio>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"

namespace pipette::cli {

std::string format_op(const OpSignature& op, bool verbose) {
  std::string out = op.to_string();
  if (!op.implemented()) out += "  [signature only]";
  out += "\n    " + op.summary() + "\n";
  if (!verbose) return out;
  for (auto& p : op.params()) {
    out += fmt::format("      {:<14} {}", p.name, p.doc);
    if (!p.choices.empty()) {
      out += " (one of:";
      for (auto& c : p.choices) out += " " + c;
      out += ")";
    }
    out += "\n";
  }
  if (!op.output_doc().empty()) out += fmt::format("      {:<14} {}\n", "->", op.output_doc());
  return out;
}

int ops_command(const std::string& ns, bool verbose) {
  const OpRegistry& r = builtin_registry();
  auto ops = ns.empty() ? r.ops() : r.ops_in(ns);
  if (ops.empty()) {
    std::fprintf(stderr, "pipette: error: no ops in namespace '%s'\n", ns.c_str());
    return 1;
  }
  std::string out;
  for (auto* op : ops) out += format_op(*op, verbose);
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace pipette::cli
