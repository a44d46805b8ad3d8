// Node identity: a Merkle-style hash of (op name, op version, constant
// arguments, the identities of its inputs, and the content of files it reads),
// under a version constant for the scheme itself. Equal keys mean equal results;
// the key seeds the node's random numbers and, later, addresses its cache entry.
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/file_hash.hpp"
#include "engine/graph.hpp"
#include "engine/op_registry.hpp"

namespace pipette {

// Bump when anything that feeds the hash changes meaning.
inline constexpr uint64_t kProvenanceScheme = 1;

struct PIPETTE_API NodeKey {
  uint64_t hash = 0;
  std::string hex() const;  // 16 hex digits
};

// Keys for every node, in node order. Relative file arguments resolve against
// `script_dir`; a file that cannot be read hashes as missing (the op reports it).
// Stochastic ops also hash `run_seed`.
// What a node's key is made of, as (name, value) pairs: "op" -> "tensor.add@1",
// "arg steps" -> "50", "arg x" -> "@<input key>", "file path" -> content hash,
// "run seed" -> "3" (stochastic ops). `pipette run --explain` compares these
// with the previous run's to say why a node runs again.
using Ingredients = std::vector<std::pair<std::string, std::string>>;

PIPETTE_API std::vector<NodeKey> provenance_keys(const Graph& g, const OpRegistry& ops, const std::filesystem::path& script_dir,
                                     uint64_t run_seed, std::vector<Ingredients>* ingredients = nullptr);

// The seed of a node in a run: the same node and run seed give the same seed.
PIPETTE_API uint64_t node_seed(const NodeKey& key, uint64_t run_seed);


}  // namespace pipette
