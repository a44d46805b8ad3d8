// Where a run's cache, run store and default output directory live: one rule
// for all three, as git finds .git. The project is the nearest directory, from
// the working directory upwards, that holds a `.pipette/`; without one it is
// the working directory (where `pipette run` then creates `.pipette/`). The
// search stops at a directory holding `.git` (a repository's root) and at the
// home directory, and never takes a `.pipette/` from a directory anyone may
// write to (such as /tmp): anyone could have planted it there.
#pragma once

#include <filesystem>

namespace pipette::cli {

std::filesystem::path project_dir();

inline std::filesystem::path default_cache_dir() { return project_dir() / ".pipette" / "cache"; }
inline std::filesystem::path default_run_store() { return project_dir() / ".pipette" / "runs.db"; }

}  // namespace pipette::cli
