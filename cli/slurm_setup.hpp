// `pipette run --executor slurm`: its options checked, and what the Slurm
// executor needs gathered before anything runs (engine/slurm_executor.hpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

#include "cli/commands.hpp"
#include "engine/graph.hpp"
#include "engine/slurm_executor.hpp"

namespace pipette::cli {

// An executor option given to the local executor, or --no-cache with slurm:
// the usage error to print; nullopt when the options fit together.
std::optional<std::string> executor_option_error(const RunArgs& a);

struct SlurmSetup {
  SlurmTools tools;
  SlurmConfig config;
};

// Finds Slurm's tools, asks the cluster whether it answers and has the
// partitions the run names (on the command line and in the script), and
// builds the jobs' command line. An error message (nothing has run) or the setup.
std::variant<SlurmSetup, std::string> prepare_slurm(const GlobalOptions& g, const RunArgs& a, const Graph& graph,
                                                    const std::filesystem::path& cache_dir, uint64_t seed);

}  // namespace pipette::cli
