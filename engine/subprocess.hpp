// Running a helper process with a time limit and capturing what it prints.
// Used to scan plugins out of process: a plugin that crashes or hangs while
// loading takes the helper down, not pipette.
#pragma once

#include <string>
#include <vector>

#include "engine/api.hpp"

namespace pipette {

struct ChildResult {
  enum class End { Exited, Signalled, TimedOut, SpawnFailed };
  End end = End::SpawnFailed;
  int code = 0;  // exit status (Exited) or signal number (Signalled)
  std::string out, err;
};

// argv[0] must be a path. Standard input is /dev/null; the child has a
// process group of its own, so a terminal's Ctrl-C does not reach it. Output beyond
// `max_output` bytes per stream is dropped. On timeout the child is killed.
PIPETTE_API ChildResult run_child(const std::vector<std::string>& argv, double timeout_s,
                                  size_t max_output = 64u << 20);

}  // namespace pipette
