// `pipette run --explain`: why a node cannot come from the cache, found by
// comparing what its provenance key is made of with the same node in the
// previous run of the script (from the run store).
#pragma once

#include <string>
#include <vector>

#include "engine/api.hpp"
#include "engine/run_store.hpp"

namespace pipette {

// One reason per node; empty for nodes that do not run (`will_run` false).
// Nodes are matched with the previous run's by op, source location and order.
PIPETTE_API std::vector<std::string> explain_reruns(const Graph& g, const std::vector<NodeKey>& keys,
                                                    const std::vector<Ingredients>& now,
                                                    const std::vector<bool>& will_run, const StoredRun* previous);

}  // namespace pipette
