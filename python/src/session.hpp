// What the Python module keeps for the life of the interpreter: the global
// options (plugin and module paths), where the `pipette` executable is (it
// scans plugins in a helper process), and the library op calls run against.
#pragma once

#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include "cli/commands.hpp"
#include "engine/op_library.hpp"

namespace pipette::python {

struct Session {
  cli::GlobalOptions options;
  // The standard library, the python.* placeholder ops (op_calls.cpp) and the
  // plugins op calls have needed so far; loading one takes `lib_mu` exclusively.
  OpLibrary call_lib;
  // What op calls compile against: the standard library and the
  // placeholders; a plugin's signatures come from its `plugin` line.
  OpRegistry compile_ops;
  std::shared_mutex lib_mu;
};

Session& session();

}  // namespace pipette::python
