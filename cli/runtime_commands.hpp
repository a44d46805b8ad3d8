// The commands that execute graphs or read LibTorch's files (run, exec-node,
// runs, cache, hooks, the plugin scanner) live in a module, libpipette_commands.so,
// that the front end loads only when one of them is asked for. `check`,
// `graph`, `fmt`, `lsp`, `ops`, `editors`, `plugins`, `help` and `--version`
// so start without LibTorch and its ~290 shared libraries (issue 28).
#pragma once

#include <string>

#include "cli/commands.hpp"

namespace pipette::cli {

// What the module hands the front end. Both are built together; `abi` and
// `version` catch a module left over from another build.
struct RuntimeCommands {
  int abi;
  const char* version;
  int (*run)(const GlobalOptions&, const RunArgs&);
  int (*exec_node)(const GlobalOptions&, const ExecNodeArgs&);
  int (*runs)(const RunsArgs&);
  int (*cache)(const std::string& action, const std::string& dir);
  int (*hooks)(const HooksArgs&);
  int (*scan_plugin)(const std::string& file);
};
constexpr int kRuntimeCommandsAbi = 1;

// Loads the module (beside the executable in a build tree, in the install's
// library directory otherwise) on first use. Throws std::runtime_error saying
// where it looked and what the loader said.
const RuntimeCommands& runtime_commands();

}  // namespace pipette::cli

// The module's one exported symbol.
extern "C" const pipette::cli::RuntimeCommands* pipette_runtime_commands();
