#include "lang/passes.hpp"

#include <unordered_map>

namespace pipette::lang {

namespace {

void remap_refs(Operand& o, const std::vector<uint32_t>& to) {
  o.for_each_ref_mut([&](Operand& r) { r.node = to[r.node]; });
}

// Keeps the nodes with keep[i], renumbered in order; `to` maps old -> new ids
// for every kept node (and, for merged nodes, to their survivor's new id).
void compact(Graph& g, const std::vector<bool>& keep, std::vector<uint32_t> to) {
  std::vector<uint32_t> new_id(g.nodes.size(), 0);
  std::vector<Node> kept;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    if (!keep[i]) continue;
    new_id[i] = static_cast<uint32_t>(kept.size());
    kept.push_back(std::move(g.nodes[i]));
  }
  for (auto& t : to) t = new_id[t];
  for (auto& n : kept) {
    for (auto& [k, v] : n.args) remap_refs(v, to);
  }
  for (uint32_t i = 0; i < kept.size(); ++i) kept[i].id = i;
  for (auto& r : g.reports) remap_refs(r.value, to);
  g.nodes = std::move(kept);
}

}  // namespace

void merge_common_nodes(Graph& g) {
  std::vector<uint32_t> to(g.nodes.size());
  std::vector<bool> keep(g.nodes.size(), true);
  std::unordered_map<std::string, uint32_t> seen;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (auto& [k, v] : n.args) remap_refs(v, to);  // inputs first: they were merged already
    std::string key = n.op + "@" + std::to_string(n.op_version) + "(";
    for (auto& [k, v] : n.args) key += k + "=" + v.canonical() + ";";
    key += "device=" + n.device + ";";  // same computation, different placement: two nodes
    auto [it, inserted] = seen.emplace(std::move(key), i);
    to[i] = it->second;
    if (!inserted) {
      keep[i] = false;
      Node& survivor = g.nodes[it->second];
      if (survivor.label.empty()) survivor.label = n.label;
    }
  }
  // Refs already point at survivors (old ids); compact maps those to new ids.
  std::vector<uint32_t> identity(g.nodes.size());
  for (uint32_t i = 0; i < identity.size(); ++i) identity[i] = i;
  for (auto& r : g.reports) remap_refs(r.value, to);
  compact(g, keep, identity);
}

void drop_dead_nodes(Graph& g) {
  std::vector<bool> live(g.nodes.size(), false);
  for (auto& r : g.reports) r.value.for_each_ref([&](const Operand& ref) { live[ref.node] = true; });
  for (auto& n : g.nodes)
    if (n.side_effect) live[n.id] = true;
  // Nodes are topologically ordered: one backwards sweep marks every input.
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (!live[i]) continue;
    for (auto& [k, v] : g.nodes[i].args) v.for_each_ref([&](const Operand& ref) { live[ref.node] = true; });
  }
  std::vector<uint32_t> identity(g.nodes.size());
  for (uint32_t i = 0; i < identity.size(); ++i) identity[i] = i;
  compact(g, live, identity);
}

}  // namespace pipette::lang
