// Passes over the graph IR. Each is a small function, testable alone.
#pragma once

#include "engine/graph.hpp"

namespace pipette::lang {

// Merges nodes that call the same op version with the same arguments (after
// their own inputs were merged). Deterministic: the first node in order is kept.
// Stochastic ops merge too: their seed derives from the node's identity, so two
// identical calls would produce identical values anyway.
void merge_common_nodes(Graph& g);

// Drops nodes that no report and no side-effecting node (e.g. `save`) depends on,
// and renumbers the rest densely, keeping topological order.
void drop_dead_nodes(Graph& g);

}  // namespace pipette::lang
