// JSON form of the graph IR (`pipette graph --format json`). Field order is fixed
// (ordered_json) so that the same script always gives byte-identical output.
#include <nlohmann/json.hpp>

#include "engine/graph.hpp"

namespace pipette {

// Appended, not "n" + std::to_string(id): g++ 12 warns falsely about that form.
std::string node_name(uint32_t id) { return std::string("n").append(std::to_string(id)); }

namespace {

using json = nlohmann::ordered_json;

json operand_json(const Operand& o) {
  using K = Operand::Kind;
  switch (o.kind) {
    case K::None: return nullptr;
    case K::Bool: return o.b;
    case K::Int: return o.i;
    case K::Float: return o.f;
    case K::String: return o.s;
    case K::List: {
      json a = json::array();
      for (auto& it : o.items) a.push_back(operand_json(it));
      return a;
    }
    case K::Record: {
      // Wrapped so that a record constant can never be mistaken for a reference.
      json fields = json::object();
      for (auto& [k, v] : o.fields) fields[k] = operand_json(v);
      return json{{"$record", fields}};
    }
    case K::Ref: {
      json r{{"$ref", node_name(o.node)}};
      if (!o.path.empty()) r["path"] = o.path;
      return r;
    }
  }
  return nullptr;
}

json loc_json(const SourceLoc& l) {
  return json{{"file", l.file}, {"line", l.line}, {"column", l.column}, {"length", l.length}};
}

}  // namespace

std::string graph_to_json(const Graph& g) {
  json out;
  out["format"] = "pipette-graph";
  out["format_version"] = 1;
  out["script"] = g.script;
  json params = json::object();
  for (auto& [k, v] : g.params) params[k] = operand_json(v);
  out["params"] = params;
  out["plugins"] = g.plugins;
  json nodes = json::array();
  for (auto& n : g.nodes) {
    json jn;
    jn["id"] = node_name(n.id);
    jn["op"] = n.op;
    jn["op_version"] = n.op_version;
    json args = json::object();
    for (auto& [k, v] : n.args) args[k] = operand_json(v);
    jn["args"] = args;
    jn["type"] = n.type.to_string();
    if (!n.label.empty()) jn["label"] = n.label;
    jn["loc"] = loc_json(n.loc);
    if (!n.device.empty()) jn["device"] = n.device;
    if (!n.resources.empty()) jn["resources"] = n.resources.to_string();
    if (!n.inlined_from.empty()) {
      json chain = json::array();
      for (auto& l : n.inlined_from) chain.push_back(loc_json(l));
      jn["inlined_from"] = chain;
    }
    nodes.push_back(std::move(jn));
  }
  out["nodes"] = nodes;
  json reports = json::array();
  for (auto& r : g.reports) {
    reports.push_back(json{{"name", r.name}, {"value", operand_json(r.value)}, {"type", r.type.to_string()},
                           {"loc", loc_json(r.loc)}});
  }
  out["reports"] = reports;
  // Scripts may hold any bytes in strings; invalid UTF-8 becomes U+FFFD rather
  // than an exception (found by the fuzzer).
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace pipette
