// Plugins loaded into this process to run their ops (LibTorch's side of
// plugin_setup.hpp): before a run, and in the scanner's helper process.
#pragma once

#include <string>

#include "cli/commands.hpp"
#include "engine/graph.hpp"
#include "engine/op_library.hpp"

namespace pipette::cli {

// Loads, in this process, every plugin `graph` declares, adding its ops to `lib`.
// Prints each failure (or appends it to `errors`); returns false if any
// plugin could not be loaded.
bool load_declared_plugins(const GlobalOptions& g, const Graph& graph, OpLibrary& lib, std::string* errors = nullptr);

// `pipette __scan-plugin FILE`: the helper process. Loads FILE beside the
// standard library and prints its <plugin> XML on stdout; a clean failure is a
// message on stderr and exit status 3.
int scan_plugin_main(const std::string& file);

}  // namespace pipette::cli
