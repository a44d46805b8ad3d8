#include "cli/slurm_setup.hpp"

#include <unistd.h>

#include <set>
#include <variant>

#include "cli/project_dir.hpp"

namespace pipette::cli {

namespace fs = std::filesystem;

std::optional<std::string> executor_option_error(const RunArgs& a) {
  if (a.executor == "slurm") {
    if (a.no_cache)
      return "--executor slurm needs the cache: it is where jobs find their inputs and leave their results "
             "(drop --no-cache)";
    return std::nullopt;
  }
  std::pair<const char*, bool> slurm_only[] = {
      {"--partition", !a.partition.empty()},     {"--account", !a.account.empty()},
      {"--slurm-opt", !a.slurm_opts.empty()},    {"--resources", !a.resources.empty()},
      {"--retries", a.retries >= 0},             {"--retry-backoff", a.retry_backoff >= 0},
      {"--poll-interval", a.poll_seconds >= 0},  {"--work-dir", !a.work_dir.empty()}};
  for (auto& [flag, given] : slurm_only)
    if (given)
      return std::string(flag) + " is an option of the Slurm executor, but this run uses the local one; add "
             "--executor slurm, or drop " + flag;
  return std::nullopt;
}

namespace {

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// This program's own path, which the jobs run: on a cluster, pipette must be
// installed where the compute nodes see the same path (docs/cluster.md).
std::string self_path() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pipette") : p.string();
}

}  // namespace

std::variant<SlurmSetup, std::string> prepare_slurm(const GlobalOptions& g, const RunArgs& a, const Graph& graph,
                                                    const fs::path& cache_dir, uint64_t seed) {
  SlurmSetup s;
  std::string error;
  auto tools = find_slurm_tools(&error);
  if (!tools) return error;
  s.tools = *tools;
  SlurmConfig& c = s.config;
  for (auto& kv : a.resources) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) return "--resources expects KEY=VALUE (cpus=4, mem=16G, gpus=1, time=2h), got '" + kv + "'";
    if (auto why = set_resource(c.overrides, kv.substr(0, eq), kv.substr(eq + 1))) return "--resources: " + *why;
  }
  if (!a.partition.empty()) {
    if (auto why = set_resource(c.overrides, "partition", a.partition)) return "--partition: " + *why;
  }
  for (auto& kv : a.slurm_opts) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    while (!k.empty() && k[0] == '-') k.erase(0, 1);
    bool ok = !k.empty() && kv.find('\n') == std::string::npos;
    for (char ch : k) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
    if (!ok) return "--slurm-opt expects an sbatch option as KEY=VALUE (qos=long, constraint=a100), got '" + kv + "'";
    static const std::set<std::string> owned{"array", "output", "error", "job-name", "chdir", "wrap", "parsable"};
    if (owned.count(k)) return "--slurm-opt " + k + " is set by pipette for each job; it cannot be overridden";
    if (k == "clusters" || k == "cluster" || k == "M")
      return "--slurm-opt " + k + ": jobs on another cluster of a federation are not followed (squeue and scancel "
             "would not see them); run pipette on a login node of that cluster";
    c.sbatch_options.emplace_back(k, v);
  }
  // Every partition the run will name, so a typo fails now, not job by job.
  std::vector<std::string> partitions;
  if (c.overrides.partition) partitions.push_back(*c.overrides.partition);
  else
    for (auto& n : graph.nodes)
      if (n.resources.partition) partitions.push_back(*n.resources.partition);
  if (auto why = check_slurm(s.tools, partitions)) return *why;
  if (!slurm_accounting(s.tools)) s.tools.sacct.clear();

  c.pipette = self_path();
  c.cache_dir = fs::absolute(cache_dir).lexically_normal();
  c.work_dir = a.work_dir.empty() ? project_dir() / ".pipette" / "slurm" : fs::path(absolute(a.work_dir));
  c.work_dir = fs::absolute(c.work_dir).lexically_normal();
  std::error_code ec;
  fs::create_directories(c.work_dir, ec);
  if (ec) return "cannot create the Slurm work directory " + c.work_dir.string() + ": " + ec.message();
  c.chdir = fs::current_path();
  c.account = a.account;
  c.memory_budget = a.memory_budget;
  if (a.retries >= 0) c.retries = a.retries;
  if (a.retry_backoff >= 0) c.backoff_seconds = a.retry_backoff;
  if (a.poll_seconds > 0) c.poll_seconds = a.poll_seconds;
  c.exec_args = {"exec-node", absolute(a.file), "--cache", c.cache_dir.string(), "--seed", std::to_string(seed),
                 "--device", a.device, "--color", "never"};
  for (auto& kv : a.sets) c.exec_args.insert(c.exec_args.end(), {"--set", kv});
  for (auto& m : g.module_path) c.exec_args.insert(c.exec_args.end(), {"--module-path", absolute(m)});
  for (auto& p : g.plugin_path) c.exec_args.insert(c.exec_args.end(), {"--plugin-path", absolute(p)});
  return s;
}

}  // namespace pipette::cli
