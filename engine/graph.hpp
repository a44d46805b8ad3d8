// The graph IR: what the compiler (lang/) produces and the engine runs.
// Nodes are stored in topological order: a node's refs point only at earlier nodes.
#pragma once

#include "engine/api.hpp"

#include <string>
#include <utility>
#include <vector>

#include "engine/operand.hpp"
#include "engine/resources.hpp"
#include "engine/source_loc.hpp"
#include "engine/types.hpp"

namespace pipette {

struct Node {
  uint32_t id = 0;
  std::string op;
  int op_version = 1;
  // Every parameter of the op's signature, in signature order, defaults filled in.
  std::vector<std::pair<std::string, Operand>> args;
  Type type;               // of the output
  std::string label;       // the `let` name first bound to this node, if any
  SourceLoc loc;           // the call that created it
  std::vector<SourceLoc> inlined_from;  // pipeline call sites, innermost first
  bool side_effect = false;  // writes outside the graph (e.g. `save`): never dropped as dead
  // A call's `device="cuda"`: where this node computes; empty = the run's device.
  // Placement, not identity: it is not part of the node's provenance key.
  std::string device;
  // A call's `resources={gpus: 1, mem: "16G"}` over the op's defaults: what its
  // job asks a cluster for. Placement too: not part of the provenance key.
  Resources resources;

  const Operand* arg(const std::string& name) const {
    for (auto& [k, v] : args)
      if (k == name) return &v;
    return nullptr;
  }
};

struct Report {
  std::string name;
  Operand value;
  Type type;
  SourceLoc loc;
};

struct Graph {
  std::string script;                                   // path of the main file, as given
  std::vector<std::pair<std::string, Operand>> params;  // resolved values, declaration order
  std::vector<std::string> plugins;                     // declared with `plugin`, first-seen order
  std::vector<Node> nodes;
  std::vector<Report> reports;
};

// How a node is named wherever it is shown or stored: "n" and its id ("n12"),
// in the graph's JSON, report.json, the run store and messages.
PIPETTE_API std::string node_name(uint32_t id);

// Deterministic serializations: the same graph gives byte-identical text.
PIPETTE_API std::string graph_to_json(const Graph& g);
PIPETTE_API std::string graph_to_dot(const Graph& g);

}  // namespace pipette
