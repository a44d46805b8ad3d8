// libpipette_commands.so: the front end's commands that need LibTorch
// (runtime_commands.hpp), behind one entry point.
#include "cli/commands.hpp"
#include "cli/plugin_loading.hpp"
#include "cli/runtime_commands.hpp"
#include "engine/malloc_tuning.hpp"

#ifndef PIPETTE_VERSION
#define PIPETTE_VERSION "unknown"
#endif

extern "C" __attribute__((visibility("default"))) const pipette::cli::RuntimeCommands* pipette_runtime_commands() {
  using namespace pipette::cli;
  // Before any tensor is allocated: the one process-wide setting a host makes.
  pipette::tune_malloc_for_tensors();
  static const RuntimeCommands commands{kRuntimeCommandsAbi, PIPETTE_VERSION, run_command, exec_node_command,
                                        runs_command,        cache_command,   hooks_command, scan_plugin_main};
  return &commands;
}
