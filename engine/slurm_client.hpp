// Slurm's command-line tools as pipette calls them (sbatch, squeue, scontrol,
// scancel, sinfo), and the parsing of what they print. No daemon protocol:
// the commands are Slurm's stable interface, and what Nextflow and Snakemake
// use too.
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/api.hpp"

namespace pipette {

// A command's absolute path from PATH; nullopt when there is none.
PIPETTE_API std::optional<std::string> find_on_path(const std::string& name);

// One line of `squeue -h -r -t all -o "%i|%T|%N|%j|%r"`.
struct SqueueRow {
  std::string job_id, state, nodes, name, reason;
};
PIPETTE_API std::vector<SqueueRow> parse_squeue(const std::string& text);

// `scontrol show job -o ID`: Key=Value fields ("JobState", "ExitCode", ...).
PIPETTE_API std::map<std::string, std::string> parse_scontrol_job(const std::string& text);

// `sacct -n -P -X -j ID -o JobID,State,ExitCode,NodeList,Submit,Start,End`:
// where accounting exists, what Slurm remembers of a job after scontrol has
// forgotten it (MinJobAge, 300 s by default, after it ended).
struct SacctRow {
  std::string job_id, state, exit_code, nodes, submit, start, end;
};
PIPETTE_API std::vector<SacctRow> parse_sacct(const std::string& text);
PIPETTE_API extern const char* const kSacctFields;

// Slurm's "2026-12-07T08:00:01" (local time); nullopt for "Unknown", "None".
PIPETTE_API std::optional<std::time_t> parse_slurm_time(const std::string& text);

// States a job leaves only by being requeued or purged.
PIPETTE_API bool is_terminal_state(const std::string& state);

// What the driver does about a job that ended in `state` with `exit_code`
// (the "N:S" of ExitCode: status N, signal S).
enum class JobEnd { Done, UserError, Retry, Fail };
PIPETTE_API JobEnd classify_job_end(const std::string& state, int exit_status, int signal);

// "0:0" -> {0, 0}; "3:0" -> {3, 0}; "0:9" -> {0, 9}.
PIPETTE_API std::pair<int, int> parse_exit_code(const std::string& text);

// The exit statuses of `pipette exec-node`, which the driver reads from Slurm.
namespace exec_node_exit {
constexpr int kOk = 0;
constexpr int kUsage = 2;            // the script does not compile, or changed since the driver compiled it
constexpr int kOpFailed = 3;         // the op raised: a user error, never retried
constexpr int kInputsMissing = 4;    // an input is not in the cache: it is not shared with this node
constexpr int kCacheUnwritable = 5;  // computed, but the result could not be stored
}  // namespace exec_node_exit

// Single quotes for a POSIX shell: abc -> 'abc', it's -> 'it'\''s'.
PIPETTE_API std::string shell_quote(const std::string& s);

}  // namespace pipette
