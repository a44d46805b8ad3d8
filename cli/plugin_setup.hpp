// The host side of plugins for the compiler: the search path, the registry
// cache (scanned by `pipette __scan-plugin` in a helper process) and the
// compiler's plugin resolver. No plugin code runs here, and nothing needs
// LibTorch; loading plugins to run them is plugin_loading.hpp.
#pragma once

#include <filesystem>
#include <string>

#include "cli/commands.hpp"
#include "engine/graph.hpp"
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

}  // namespace pipette::cli
