#include "engine/provenance.hpp"

#include <xxhash.h>

#include <fstream>
#include <optional>

#include <fmt/format.h>

namespace pipette {

std::string NodeKey::hex() const { return fmt::format("{:016x}", hash); }

std::vector<NodeKey> provenance_keys(const Graph& g, const OpRegistry& ops, const std::filesystem::path& script_dir,
                                     uint64_t run_seed, std::vector<Ingredients>* ingredients) {
  std::vector<NodeKey> keys(g.nodes.size());
  if (ingredients) ingredients->assign(g.nodes.size(), {});
  for (auto& n : g.nodes) {
    Ingredients parts;
    std::string text = fmt::format("scheme={};op={}@{};", kProvenanceScheme, n.op, n.op_version);
    parts.emplace_back("op", fmt::format("{}@{}", n.op, n.op_version));
    const OpSignature* sig = ops.find(n.op);
    if (sig && sig->is_stochastic()) {
      text += fmt::format("run_seed={};", run_seed);
      parts.emplace_back("run seed", std::to_string(run_seed));
    }
    for (auto& [name, arg] : n.args) {
      Operand resolved = arg;
      // Inputs enter by identity, not by position in this graph.
      resolved.for_each_ref_mut([&](Operand& r) {
        std::string id = keys[r.node].hex();
        for (auto& p : r.path) id += "." + p;
        r = Operand::string("@" + id);
      });
      text += name + "=" + resolved.canonical() + ";";
      parts.emplace_back("arg " + name, resolved.canonical());
      const ParamSpec* spec = sig ? sig->find_param(name) : nullptr;
      if (spec && spec->input_file && arg.kind == Operand::Kind::String) {
        std::filesystem::path p(arg.s);
        if (p.is_relative()) p = script_dir / p;
        auto h = hash_file(p);
        std::string content = h ? fmt::format("{:016x}", *h) : std::string("missing");
        text += "content=" + content + ";";
        parts.emplace_back("file " + arg.s, content);
      }
    }
    keys[n.id].hash = XXH3_64bits(text.data(), text.size());
    if (ingredients) (*ingredients)[n.id] = std::move(parts);
  }
  return keys;
}

uint64_t node_seed(const NodeKey& key, uint64_t run_seed) {
  uint64_t both[2] = {key.hash, run_seed};
  // Keep seeds below 2^63: some consumers store them in signed integers.
  return XXH3_64bits(both, sizeof(both)) >> 1;
}

}  // namespace pipette
