// The host side of plugins for the CLI: the search path, the registry cache
// (scanned by `pipette __scan-plugin` in a helper process), the compiler's
// plugin resolver, and loading the plugins a script declares before it runs.
#pragma once

#include <filesystem>
#include <string>

#include "cli/commands.hpp"
#include "engine/graph.hpp"
#include "engine/op_library.hpp"
#include "engine/plugin_registry.hpp"
#include "lang/compiler.hpp"

namespace pipette::cli {

// The `pipette` executable: this process's own, unless an embedding (the
// Python module) said where it is. Plugins are scanned by running it.
std::filesystem::path self_exe();
void set_host_executable(const std::filesystem::path& pipette);
// <dir of the pipette executable>/../lib/pipette/plugins: the build tree and any
// install prefix alike.
std::filesystem::path installed_plugin_dir();

// Built and brought up to date on first use; its warnings are logged once.
PluginRegistry& plugin_registry(const GlobalOptions& g);

// For CompileOptions::resolve_plugin: signatures come from the registry cache,
// no plugin code runs.
lang::PluginResolver plugin_resolver(const GlobalOptions& g);

// Loads, in this process, every plugin `graph` declares, adding its ops to `lib`.
// Prints each failure (or appends it to `errors`); returns false if any
// plugin could not be loaded.
bool load_declared_plugins(const GlobalOptions& g, const Graph& graph, OpLibrary& lib, std::string* errors = nullptr);

// `pipette __scan-plugin FILE`: the helper process. Loads FILE beside the
// standard library and prints its <plugin> XML on stdout; a clean failure is a
// message on stderr and exit status 3.
int scan_plugin_main(const std::string& file);

}  // namespace pipette::cli
