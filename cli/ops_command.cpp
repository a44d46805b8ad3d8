// `pipette ops [NAME]`: every op, one namespace's (built-in or a plugin's), or
// one op in full.
#include <cstdio>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"
#include "cli/plugin_setup.hpp"
#include "engine/suggest.hpp"

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

namespace {

// One op as `pipette ops NAME` shows it: the signature, the whole doc, every
// parameter with its type, default, choices and range, and what the engine
// knows about it.
std::string format_op_in_full(const OpSignature& op) {
  std::string out = op.to_string() + "\n\n" + op.doc() + "\n\nparameters:\n";
  for (auto& p : op.params()) {
    out += fmt::format("  {}: {}", p.name, p.type.to_string());
    if (!p.required) out += " = " + p.default_value.to_source();
    out += "\n      " + p.doc;
    if (!p.choices.empty()) {
      out += " (one of:";
      for (auto& c : p.choices) out += " " + c;
      out += ")";
    }
    if (p.min || p.max)
      out += fmt::format(" [{} .. {}]", p.min ? fmt::format("{:g}", *p.min) : "", p.max ? fmt::format("{:g}", *p.max) : "");
    if (p.compile_time) out += " (known when the script is compiled)";
    out += "\n";
  }
  out += "\nreturns: " + op.output().to_string() + (op.output_doc().empty() ? "" : " - " + op.output_doc()) + "\n";
  std::string notes;
  if (!op.plugin().empty()) notes += "  from plugin '" + op.plugin() + "'\n";
  if (op.is_stochastic()) notes += "  stochastic: the run seed (or seed=) decides its random numbers\n";
  if (op.has_side_effects()) notes += "  writes files: runs in every run, never from the cache\n";
  if (op.passes_nonfinite_values()) notes += "  passes NaN and Inf through (other ops refuse them)\n";
  else if (op.may_return_nonfinite_values()) notes += "  may return NaN where a value is undefined (see above)\n";
  if (!op.implemented()) notes += "  signature only: it cannot run yet\n";
  if (!notes.empty()) out += "\n" + notes;
  return out;
}

}  // namespace

int ops_command(const GlobalOptions& g, const std::string& name, bool verbose) {
  const OpRegistry& r = builtin_registry();
  if (!name.empty()) {
    if (const OpSignature* op = r.find(name)) {
      std::fputs(format_op_in_full(*op).c_str(), stdout);
      return 0;
    }
  }
  auto ops = name.empty() ? r.ops() : r.ops_in(name);
  if (!ops.empty()) {
    std::string out;
    for (auto* op : ops) out += format_op(*op, verbose);
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  // A plugin's op or namespace, from the registry cache (no plugin code runs).
  std::vector<std::string> known;
  for (auto* op : r.ops()) known.push_back(op->name());
  std::string listed;
  for (auto& rec : plugin_registry(g).plugins()) {
    if (rec.status != PluginRecord::Status::Ok) continue;
    for (auto sig : rec.ops) {
      sig.set_plugin(rec.name);
      known.push_back(sig.name());
      if (sig.name() == name) {
        std::fputs(format_op_in_full(sig).c_str(), stdout);
        return 0;
      }
      if (sig.name().rfind(name + ".", 0) == 0) listed += format_op(sig, verbose);
    }
  }
  if (!listed.empty()) {
    std::fputs(listed.c_str(), stdout);
    return 0;
  }
  std::string hint;
  if (auto best = closest(name, known)) hint = "; did you mean '" + *best + "'?";
  std::fprintf(stderr,
               "pipette: error: no op or namespace '%s'%s (`pipette ops` lists every built-in op; "
               "`pipette plugins list` and `pipette plugins inspect NAME` show plugins)\n",
               name.c_str(), hint.c_str());
  return 1;
}

}  // namespace pipette::cli
