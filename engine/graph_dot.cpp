// Graphviz form of the graph IR (`pipette graph --format dot`): one box per op
// labelled with the op and its source line, one note per report.
#include <fmt/format.h>

#include "engine/graph.hpp"

namespace pipette {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out;
}

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Constant arguments worth showing in the box; long ones are cut.
std::string constant_summary(const Node& n) {
  std::string s;
  for (auto& [k, v] : n.args) {
    if (!v.is_constant() || v.kind == Operand::Kind::None) continue;
    std::string text = v.to_source();
    if (text.size() > 24) text = text.substr(0, 21) + "...";
    s += "\n" + k + "=" + text;
  }
  return s;
}

}  // namespace

std::string graph_to_dot(const Graph& g) {
  std::string out = "digraph pipette {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (auto& n : g.nodes) {
    std::string label = n.op;
    if (!n.label.empty()) label = n.label + " = " + label;
    label += '\n';
    label += base_name(n.loc.file) + ":" + std::to_string(n.loc.line) + constant_summary(n);
    // Ops that write outside the graph (save, viz.curve, plugins' writers) as folders.
    std::string shape = n.side_effect ? "folder" : "box";
    out += fmt::format("  n{} [shape={}, label=\"{}\"];\n", n.id, shape, escape(label));
  }
  for (auto& n : g.nodes) {
    for (auto& arg : n.args) {
      const std::string& name = arg.first;  // clang 14 cannot capture structured bindings
      arg.second.for_each_ref([&](const Operand& r) {
        std::string label = name;
        for (auto& p : r.path) label += "." + p;
        out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", r.node, n.id, escape(label));
      });
    }
  }
  for (size_t i = 0; i < g.reports.size(); ++i) {
    auto& r = g.reports[i];
    std::string label = "report \"" + r.name + "\"";
    if (r.value.is_constant()) label += "\n= " + r.value.to_source();
    out += fmt::format("  r{} [shape=note, style=filled, fillcolor=\"#eef5ff\", label=\"{}\"];\n", i, escape(label));
    r.value.for_each_ref([&](const Operand& ref) {
      std::string path;
      for (auto& p : ref.path) path += (path.empty() ? "" : ".") + p;
      out += fmt::format("  n{} -> r{}{};\n", ref.node, i,
                         path.empty() ? "" : fmt::format(" [label=\"{}\"]", escape(path)));
    });
  }
  out += "}\n";
  return out;
}

}  // namespace pipette
