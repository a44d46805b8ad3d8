#include "engine/slurm_executor.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/cache.hpp"
#include "engine/op_impl.hpp"
#include "engine/slurm_client.hpp"
#include "engine/subprocess.hpp"

namespace pipette {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kCommandTimeout = 60;  // seconds for one sbatch, squeue, scontrol or scancel
constexpr size_t kLogTailLines = 20;

std::string first_line(const std::string& s) {
  std::string t = s.substr(0, s.find('\n'));
  while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return t;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t b = s.find_first_not_of(" \n");
  return b == std::string::npos ? std::string() : s.substr(b);
}

std::string read_file(const fs::path& p, size_t max = 1u << 20) {
  std::ifstream in(p, std::ios::binary);
  std::string s(max, '\0');
  in.read(s.data(), static_cast<std::streamsize>(max));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// The last lines of a job's log, for an error message.
std::string log_tail(const fs::path& log) {
  std::error_code ec;
  if (!fs::exists(log, ec))
    return "its log " + log.string() + " does not exist on this machine: is the work directory on a filesystem "
           "the compute nodes share?";
  std::ifstream in(log, std::ios::binary);
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - 8192);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());  // a partial line
  size_t start = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
  std::string out = "the end of its log " + log.string() + ":";
  if (lines.empty()) return out + " (empty)";
  for (size_t i = start; i < lines.size(); ++i) out += "\n  | " + lines[i];
  return out;
}

std::string user_name() {
  if (passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return std::to_string(::getuid());
}

}  // namespace

std::optional<SlurmTools> find_slurm_tools(std::string* error) {
  SlurmTools t;
  std::pair<const char*, std::string*> tools[] = {
      {"sbatch", &t.sbatch}, {"squeue", &t.squeue}, {"scontrol", &t.scontrol}, {"scancel", &t.scancel}, {"sinfo", &t.sinfo}};
  if (auto sacct = find_on_path("sacct")) t.sacct = *sacct;  // used only where accounting answers
  for (auto& [name, where] : tools) {
    auto p = find_on_path(name);
    if (!p) {
      if (error)
        *error = std::string("--executor slurm, but there is no ") + name +
                 " on PATH: run pipette on a machine that submits Slurm jobs (a login node), or load Slurm's module";
      return std::nullopt;
    }
    *where = *p;
  }
  return t;
}

bool slurm_accounting(const SlurmTools& tools) {
  if (tools.sacct.empty()) return false;
  // Without slurmdbd, sacct says "Slurm accounting storage is disabled" and exits 1.
  auto r = run_child({tools.sacct, "-n", "-X", "-P", "-j", "1", "-o", "JobID"}, kCommandTimeout);
  return r.end == ChildResult::End::Exited && r.code == 0;
}

std::optional<std::string> check_slurm(const SlurmTools& tools, const std::vector<std::string>& partitions) {
  auto r = run_child({tools.sinfo, "-h", "-o", "%P"}, kCommandTimeout);
  if (r.end != ChildResult::End::Exited || r.code != 0)
    return "Slurm does not answer (sinfo: " + excerpt(trimmed(r.err.empty() ? r.out : r.err), 400) +
           "); is slurmctld running, and SLURM_CONF set?";
  std::set<std::string> known;
  std::stringstream in(r.out);
  for (std::string p; std::getline(in, p);) {
    p = trimmed(p);
    if (!p.empty() && p.back() == '*') p.pop_back();  // the default partition
    if (!p.empty()) known.insert(p);
  }
  for (auto& want : partitions) {
    if (known.count(want)) continue;
    std::string names;
    for (auto& k : known) names += (names.empty() ? "" : ", ") + k;
    return "there is no Slurm partition '" + want + "'; this cluster has: " + names;
  }
  return std::nullopt;
}

struct SlurmExecutor::Job {
  const Node* node = nullptr;
  NodeKey key;
  std::string name;  // the Slurm job name: pipette-OP-KEY12
  fs::path dir;
  std::vector<std::string> options;  // resources and --slurm-opt, in sbatch's syntax
  std::function<void(OffloadOutcome)> done;
  JobRecord rec;
  std::string warning;
  std::string slurm_name;  // what squeue shows (an array's name for its tasks)
  fs::path log;
  Clock::time_point due;
  std::string state;  // the last seen
  int missing = 0;    // polls in a row that did not list it
  int refusals = 0;   // sbatch refusals that looked transient (timeouts, a busy controller)
  bool adopted = false;
  // Nodes with the same key (the same computation, placed apart): they take
  // this job's outcome instead of submitting a second job for one result.
  std::vector<std::function<void(OffloadOutcome)>> followers;
};

SlurmExecutor::SlurmExecutor(SlurmTools tools, SlurmConfig config)
    : tools_(std::move(tools)), config_(std::move(config)), user_(user_name()) {
  poller_ = std::thread([this] { poll_loop(); });
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

SlurmExecutor::Stats SlurmExecutor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool SlurmExecutor::takes(const Node&, const OpSignature* sig) const { return sig && !sig->is_light(); }

fs::path SlurmExecutor::job_dir(const NodeKey& key) const {
  std::string hex = key.hex();
  return config_.work_dir / hex.substr(0, 2) / hex;
}

std::vector<std::string> SlurmExecutor::sbatch_options(const Node& n) const {
  Resources r = config_.overrides.over(n.resources);
  std::vector<std::string> o;
  if (r.cpus) o.push_back("--cpus-per-task=" + std::to_string(*r.cpus));
  if (r.mem_mb) o.push_back("--mem=" + std::to_string(*r.mem_mb) + "M");
  if (r.gpus && *r.gpus > 0) o.push_back("--gres=gpu:" + std::to_string(*r.gpus));
  if (r.minutes) o.push_back("--time=" + slurm_time(*r.minutes));
  if (r.partition) o.push_back("--partition=" + *r.partition);
  if (!config_.account.empty()) o.push_back("--account=" + config_.account);
  for (auto& [k, v] : config_.sbatch_options) o.push_back("--" + k + (v.empty() ? "" : "=" + v));
  return o;
}

void SlurmExecutor::say(const Job& j, int level, const std::string& what) const {
  if (config_.say) config_.say(*j.node, level, what);
}

std::string SlurmExecutor::write_job_script(const Job& j) const {
  // Comments for whoever reads the script; a newline in a path or an option
  // must not end the comment and run the rest.
  auto one_line = [](std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
    return text;
  };
  std::string options;
  for (auto& o : j.options) options += o + " ";
  std::string s = "#!/bin/bash\n# pipette: node " + node_name(j.node->id) + " (" + j.node->op + ") at " +
                  one_line(j.node->loc.to_string()) + ", key " + j.key.hex() + "\n# Slurm options: " +
                  one_line(options) + "\nexec";
  std::vector<std::string> argv{config_.pipette};
  argv.insert(argv.end(), config_.exec_args.begin(), config_.exec_args.end());
  argv.insert(argv.end(), {"--node", std::to_string(j.node->id), "--key", j.key.hex(), "--work-dir", j.dir.string()});
  Resources r = config_.overrides.over(j.node->resources);
  // An op's working memory within the job's: half, the rest is LibTorch's and the model's.
  if (r.mem_mb) argv.insert(argv.end(), {"--memory-budget", std::to_string(std::max<int64_t>(1, *r.mem_mb / 2)) + "M"});
  else if (!config_.memory_budget.empty()) argv.insert(argv.end(), {"--memory-budget", config_.memory_budget});
  for (auto& a : argv) s += " " + shell_quote(a);
  s += "\n";
  write_inside(j.dir, "job.sh", s);
  fs::permissions(j.dir / "job.sh", fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  return s;
}

void SlurmExecutor::start(const Node& n, const NodeKey& key, std::function<void(OffloadOutcome)> done) {
  auto j = std::make_shared<Job>();
  j->node = &n;
  j->key = key;
  j->dir = job_dir(key);
  j->done = std::move(done);
  j->options = sbatch_options(n);
  std::string op = n.op;
  std::replace(op.begin(), op.end(), '.', '-');
  j->name = "pipette-" + op + "-" + key.hex().substr(0, 12);
  j->rec.executor = "slurm";
  try {
    fs::create_directories(j->dir);
    write_job_script(*j);
  } catch (const std::exception& e) {
    OffloadOutcome o;
    o.error = "cannot write its job's script in the work directory " + j->dir.string() + ": " + e.what();
    j->done(std::move(o));
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) {
    OffloadOutcome o;
    o.status = OffloadOutcome::Status::Cancelled;
    j->done(std::move(o));
    return;
  }
  if (auto same = active_.find(key.hash); same != active_.end()) {
    same->second->followers.push_back(std::move(j->done));
    return;
  }
  active_[key.hash] = j;
  if (adopt(*j) && !running_.count(j->rec.job_id)) {
    running_[j->rec.job_id] = j;
    ++stats_.adopted;
  } else {
    // No record, or one naming a job id this driver already follows (Slurm
    // reused it): a job of its own.
    j->adopted = false, j->rec.job_id.clear(), j->rec.attempts = 0, j->state.clear();
    j->due = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(config_.gather_seconds));
    waiting_.push_back(j);
  }
  woken_ = true;
  cv_.notify_all();
}

// A job an earlier driver submitted for this key and that may still run: its
// record names the job; the poller then follows it like its own (a job id
// Slurm has reused for someone else's job does not have the name).
bool SlurmExecutor::adopt(Job& j) {
  std::istringstream in(read_file(j.dir / "job", 4096));
  std::string id, name, log;
  if (!(in >> id >> name) || id.empty()) return false;
  std::getline(in >> std::ws, log);
  j.rec.job_id = id;
  j.slurm_name = name;
  j.log = log.empty() ? j.dir / "attempt-1.log" : fs::path(log);
  j.rec.log = j.log.string();
  j.rec.attempts = 1;
  j.adopted = true;
  j.state = "ADOPTED";
  return true;
}

void SlurmExecutor::poll_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next_poll = Clock::now();
  while (!stopping_) {
    auto now = Clock::now();
    auto wake = next_poll;
    for (auto& j : waiting_) wake = std::min(wake, j->due);
    woken_ = false;
    cv_.wait_until(lock, std::max(wake, now), [&] {
      if (stopping_ || woken_) return true;  // new work: its due time may come before `wake`
      auto t = Clock::now();
      return std::any_of(waiting_.begin(), waiting_.end(), [&](auto& j) { return j->due <= t; }) || t >= next_poll;
    });
    if (stopping_) break;
    std::vector<std::shared_ptr<Job>> ready;
    now = Clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if ((*it)->due <= now) {
        ready.push_back(*it);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    bool poll = !running_.empty() && Clock::now() >= next_poll;
    lock.unlock();
    // An exception here (a cache directory gone stale on NFS) must not end the
    // process with jobs running: the jobs concerned fail, the poller goes on.
    try {
      if (!ready.empty()) submit_ready(ready);
    } catch (const std::exception& e) {
      for (auto& j : ready) {
        OffloadOutcome o;
        o.error = std::string("its job could not be submitted: ") + e.what();
        o.job = j->rec;
        finish(j, std::move(o));
      }
    }
    try {
      if (poll) poll_once();
    } catch (const std::exception&) {
      // The next poll asks again.
    }
    lock.lock();
    if (poll || next_poll <= Clock::now())
      next_poll = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(config_.poll_seconds));
  }
}

// Groups of the same op and the same options go as one array each.
void SlurmExecutor::submit_ready(std::vector<std::shared_ptr<Job>> ready) {
  std::map<std::string, std::vector<std::shared_ptr<Job>>> groups;
  for (auto& j : ready) {
    std::string k = j->node->op;
    for (auto& o : j->options) k += "\n" + o;
    groups[k].push_back(j);
  }
  for (auto& [k, g] : groups)
    for (size_t at = 0; at < g.size(); at += config_.max_array)
      submit({g.begin() + at, g.begin() + std::min(g.size(), at + config_.max_array)});
}

bool SlurmExecutor::submit(const std::vector<std::shared_ptr<Job>>& group) {
  if (cancelled_) {
    cancel_jobs(group);  // none has a job yet: they are only told
    return false;
  }
  const Job& first = *group.front();
  // --no-requeue: a job the machine broke (node failure, preemption) ends, and
  // pipette's own retries resubmit it, counted and backed off; requeued by
  // Slurm as well, it could run twice at once. --slurm-opt requeue comes later and wins.
  std::vector<std::string> argv{tools_.sbatch, "--parsable", "--no-requeue", "--chdir=" + config_.chdir.string()};
  argv.insert(argv.end(), first.options.begin(), first.options.end());
  std::string array_name;
  for (auto& j : group) {
    j->rec.attempts += 1;
    j->log = j->dir / ("attempt-" + std::to_string(j->rec.attempts) + ".log");
    j->rec.log = j->log.string();
  }
  fs::path script;
  try {
    if (group.size() == 1) {
      argv.push_back("--job-name=" + first.name);
      argv.push_back("--output=" + first.log.string());
      script = first.dir / "job.sh";
    } else {
      // One array: task i runs node i's own job.sh, into node i's own log.
      std::string op = first.node->op;
      std::replace(op.begin(), op.end(), '.', '-');
      array_name = "pipette-" + op + "-array-" + first.key.hex().substr(0, 12);  // unique: found again by name
      std::string s = "#!/bin/bash\n# pipette: " + std::to_string(group.size()) + " nodes of " + first.node->op +
                      "\ncase \"$SLURM_ARRAY_TASK_ID\" in\n";
      for (size_t i = 0; i < group.size(); ++i)
        s += std::to_string(i) + ") exec bash " + shell_quote((group[i]->dir / "job.sh").string()) + " >> " +
             shell_quote(group[i]->log.string()) + " 2>&1 ;;\n";
      s += "*) echo \"pipette: no task $SLURM_ARRAY_TASK_ID in this array\" >&2; exit 2 ;;\nesac\n";
      std::string name = first.key.hex().substr(0, 16) + "-" + std::to_string(group.size()) + ".sh";
      fs::path dir = config_.work_dir / "arrays";
      fs::create_directories(dir);
      write_inside(dir, name, s);
      script = dir / name;
      argv.push_back("--job-name=" + array_name);
      argv.push_back("--array=0-" + std::to_string(group.size() - 1));
      argv.push_back("--output=" + (dir / (first.key.hex().substr(0, 16) + "-%a.log")).string());
    }
  } catch (const std::exception& e) {
    for (auto& j : group) {
      OffloadOutcome o;
      o.error = std::string("cannot write its job's script: ") + e.what();
      o.job = j->rec;
      finish(j, std::move(o));
    }
    return false;
  }
  argv.push_back(script.string());
  auto r = run_child(argv, kCommandTimeout);
  std::string id = first_line(r.out);
  if (auto semi = id.find(';'); semi != std::string::npos) id = id.substr(0, semi);  // "123;cluster"
  bool ok = r.end == ChildResult::End::Exited && r.code == 0 && !id.empty() &&
            std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!ok && r.end == ChildResult::End::TimedOut) {
    // slurmctld may have taken the job before sbatch gave up: look for it by
    // its name before submitting it again.
    std::string name = group.size() == 1 ? first.name : array_name;
    auto q = run_child({tools_.squeue, "-h", "-u", user_, "-n", name, "-o", "%F"}, kCommandTimeout);
    std::string found = q.end == ChildResult::End::Exited && q.code == 0 ? first_line(q.out) : "";
    if (!found.empty() && std::all_of(found.begin(), found.end(), [](char c) { return c >= '0' && c <= '9'; }))
      id = found, ok = true;
  }
  std::string why = ok ? "" : trimmed(r.err.empty() ? r.out : r.err);
  bool transient = r.end == ChildResult::End::TimedOut || why.find("timed out") != std::string::npos ||
                   why.find("Unable to contact") != std::string::npos ||
                   why.find("temporarily") != std::string::npos || why.find("submit limit") != std::string::npos ||
                   why.find("MaxSubmit") != std::string::npos;
  if (!ok && transient && first.refusals < 3 && !cancelled_) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& j : group) {
      ++j->refusals;
      j->rec.attempts -= 1;  // not an attempt: it never ran
      j->due = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(config_.backoff_seconds * j->refusals));
      say(*j, 2, "sbatch did not take its job (" + excerpt(why.empty() ? "timed out" : why, 300) + "); trying again");
      waiting_.push_back(j);
    }
    woken_ = true;
    cv_.notify_all();
    return false;
  }
  if (!ok) {
    for (auto& j : group) {
      OffloadOutcome o;
      o.error = "Slurm refused its job (" + excerpt(why, 1500) + "); the request was: sbatch";
      for (auto& opt : j->options) o.error += " " + opt;
      o.job = j->rec;
      finish(j, std::move(o));
    }
    return false;
  }
  std::unique_lock<std::mutex> lock(mu_);
  stats_.submitted += group.size();
  stats_.arrays += group.size() > 1;
  for (size_t i = 0; i < group.size(); ++i) {
    auto& j = group[i];
    j->rec.job_id = group.size() == 1 ? id : id + "_" + std::to_string(i);
    j->slurm_name = group.size() == 1 ? j->name : array_name;
    j->state = "SUBMITTED";
    j->missing = 0;
    try {
      write_inside(j->dir, "job", j->rec.job_id + " " + j->slurm_name + " " + j->log.string() + "\n");
    } catch (const std::exception&) {
      // Only adoption after a killed driver needs it; the job runs anyway.
    }
    if (!cancelled_) running_[j->rec.job_id] = j;
  }
  for (auto& j : group)
    say(*j, 1, "submitted as Slurm job " + j->rec.job_id + (j->rec.attempts > 1 ? " (attempt " + std::to_string(j->rec.attempts) + ")" : ""));
  if (!cancelled_) return true;
  // Ctrl-C came while sbatch ran: cancel_all has been, so these are cancelled here.
  lock.unlock();
  cancel_jobs(group);
  return true;
}

void SlurmExecutor::poll_once() {
  auto r = run_child({tools_.squeue, "-h", "-r", "-t", "all", "-u", user_, "-o", "%i|%T|%N|%j|%r"}, kCommandTimeout);
  if (r.end != ChildResult::End::Exited || r.code != 0) return;  // slurmctld busy or restarting: the next poll
  std::map<std::string, SqueueRow> rows;
  for (auto& row : parse_squeue(r.out)) rows.emplace(row.job_id, row);
  std::vector<std::pair<std::shared_ptr<Job>, std::string>> ended_jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, j] : running_) {
      auto it = rows.find(id);
      if (it == rows.end() || (j->adopted && it->second.name != j->slurm_name)) {
        // Not listed: purged after it ended, or a record of a job that is gone.
        if (++j->missing >= 2 || j->adopted) ended_jobs.emplace_back(j, "");
        continue;
      }
      j->missing = 0;
      const SqueueRow& row = it->second;
      if (!row.nodes.empty() && row.nodes != "(null)") j->rec.host = row.nodes;
      if (row.state != j->state) {
        if (row.state == "RUNNING") say(*j, 1, "Slurm job " + id + " running on " + j->rec.host);
        if (j->adopted && j->state == "ADOPTED")
          say(*j, 1, "Slurm job " + id + " of an earlier driver is " + row.state + ": adopted, not submitted again");
        j->state = row.state;
      }
      if (is_terminal_state(row.state)) ended_jobs.emplace_back(j, row.state);
    }
    for (auto& [j, s] : ended_jobs) running_.erase(j->rec.job_id);
  }
  for (auto& [j, s] : ended_jobs) ended(j, s);
}

void SlurmExecutor::ended(const std::shared_ptr<Job>& j, const std::string& squeue_state) {
  JobRecord& rec = j->rec;
  std::string state = squeue_state;
  int status = -1, sig = 0;
  auto learn = [&](const std::string& job_state, const std::string& exit_code, const std::string& nodes,
                   const std::string& submitted, const std::string& started, const std::string& finished) {
    state = job_state;
    if (!exit_code.empty()) std::tie(status, sig) = parse_exit_code(exit_code);
    if (!nodes.empty() && nodes != "(null)" && nodes != "None assigned") rec.host = nodes;
    auto submit = parse_slurm_time(submitted), begin = parse_slurm_time(started), end = parse_slurm_time(finished);
    if (submit && begin) rec.queue_seconds = std::max(0.0, std::difftime(*begin, *submit));
    if (begin && end) rec.run_seconds = std::max(0.0, std::difftime(*end, *begin));
  };
  bool known = false;
  auto r = run_child({tools_.scontrol, "show", "job", "-o", rec.job_id}, kCommandTimeout);
  if (r.end == ChildResult::End::Exited && r.code == 0) {
    auto f = parse_scontrol_job(r.out);
    if ((known = f.count("JobState") > 0))
      learn(f["JobState"], f["ExitCode"], f["NodeList"], f["SubmitTime"], f["StartTime"], f["EndTime"]);
  }
  // scontrol forgets a job MinJobAge after it ended; accounting does not.
  if (!known && !tools_.sacct.empty()) {
    auto q = run_child({tools_.sacct, "-n", "-P", "-X", "-j", rec.job_id, "-o", kSacctFields}, kCommandTimeout);
    if (q.end == ChildResult::End::Exited && q.code == 0)
      for (auto& row : parse_sacct(q.out))
        if (row.job_id == rec.job_id) learn(row.state, row.exit_code, row.nodes, row.submit, row.start, row.end);
  }
  if (known && !is_terminal_state(state) && state.rfind("CANCELLED", 0) != 0) {
    // squeue missed it but it lives (COMPLETING, a requeue): keep following it.
    std::lock_guard<std::mutex> lock(mu_);
    j->missing = 0;
    if (!cancelled_) running_[rec.job_id] = j;
    return;
  }
  rec.state = state.empty() ? "GONE" : state;
  rec.exit_code = status;
  OffloadOutcome o;
  bool stored = false;
  try {
    stored = Cache(config_.cache_dir).contains(j->key);
  } catch (const std::exception& e) {
    o.error = "its Slurm job " + rec.job_id + " ended " + rec.state + ", but the cache cannot be read: " + e.what();
    o.job = rec;
    finish(j, std::move(o));
    return;
  }
  // The result decides, whatever Slurm says: a job killed after storing it
  // (or one an earlier driver saw through) has done its work.
  if (stored) {
    o.status = OffloadOutcome::Status::Done;
    o.job = rec;
    o.warning = j->warning;
    std::error_code ec;
    fs::remove(j->dir / "job", ec);
    finish(j, std::move(o));
    return;
  }
  JobEnd what = state.empty() ? JobEnd::Retry : classify_job_end(state, status, sig);
  if (j->adopted && !cancelled_) {
    // An earlier driver's job that is gone, or ended without a result in this
    // cache (that driver may have used another --cache): submitted afresh,
    // not counted as an attempt of this run.
    j->adopted = false;
    rec.attempts = 0;
    std::lock_guard<std::mutex> lock(mu_);
    j->due = Clock::now();
    waiting_.push_back(j);
    woken_ = true;
    cv_.notify_all();
    return;
  }
  if (what == JobEnd::Done) {
    o.status = OffloadOutcome::Status::Done;  // the executor says so if the cache does not hold it
  } else if (what == JobEnd::Retry && rec.attempts <= config_.retries) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) {
      o.status = OffloadOutcome::Status::Cancelled;
    } else {
      double wait = config_.backoff_seconds * std::pow(2.0, rec.attempts - 1);
      std::string w = "Slurm job " + rec.job_id + " ended " + rec.state + (rec.host.empty() ? "" : " on " + rec.host) +
                      "; submitted again in " + std::to_string(static_cast<int>(std::lround(wait))) + " s (retry " +
                      std::to_string(rec.attempts) + " of " + std::to_string(config_.retries) + ")";
      j->warning += (j->warning.empty() ? "" : "; ") + w;
      j->due = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait));
      j->adopted = false;
      ++stats_.retried;
      waiting_.push_back(j);
      woken_ = true;
      cv_.notify_all();
      say(*j, 2, w);
      return;
    }
  } else if (cancelled_) {
    o.status = OffloadOutcome::Status::Cancelled;
  } else {
    std::string own = trimmed(read_file(j->dir / "error.txt", 16384));
    if (what == JobEnd::UserError && !own.empty()) {
      o.error = own + "\n(in Slurm job " + rec.job_id + " on " + rec.host + "; " + log_tail(j->log) + ")";
    } else {
      o.error = "its Slurm job " + rec.job_id + " ended " + rec.state + " (exit " + std::to_string(status) +
                (sig ? ", signal " + std::to_string(sig) : "") + ")" + (rec.host.empty() ? "" : " on " + rec.host);
      if (rec.state.rfind("TIMEOUT", 0) == 0) o.error += ": it ran past its time; raise time= in its resources";
      if (rec.state.rfind("OUT_OF_MEMORY", 0) == 0) o.error += ": raise mem= in its resources";
      if (what == JobEnd::Retry) o.error += " after " + std::to_string(rec.attempts) + " attempts";
      o.error += "; " + log_tail(j->log);
    }
  }
  o.job = rec;
  o.warning = j->warning;
  std::error_code ec;
  fs::remove(j->dir / "job", ec);
  finish(j, std::move(o));
}

void SlurmExecutor::finish(const std::shared_ptr<Job>& j, OffloadOutcome o) {
  std::vector<std::function<void(OffloadOutcome)>> followers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!j->done) return;
    followers.swap(j->followers);
    if (auto it = active_.find(j->key.hash); it != active_.end() && it->second == j) active_.erase(it);
  }
  auto done = std::move(j->done);
  j->done = nullptr;
  for (auto& f : followers) f(o);
  done(std::move(o));
}

void SlurmExecutor::cancel_all() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    for (auto& [id, j] : running_) all.push_back(j);
    for (auto& j : waiting_) all.push_back(j);
    running_.clear();
    waiting_.clear();
    stats_.cancelled += all.size();
  }
  cancel_jobs(all);
}

void SlurmExecutor::cancel_jobs(const std::vector<std::shared_ptr<Job>>& jobs) {
  std::vector<std::string> ids;
  for (auto& j : jobs)
    if (!j->rec.job_id.empty()) ids.push_back(j->rec.job_id);
  for (size_t at = 0; at < ids.size(); at += 500) {
    std::vector<std::string> argv{tools_.scancel};
    argv.insert(argv.end(), ids.begin() + at, ids.begin() + std::min(ids.size(), at + 500));
    run_child(argv, kCommandTimeout);
  }
  for (auto& j : jobs) {
    OffloadOutcome o;
    o.status = OffloadOutcome::Status::Cancelled;
    j->rec.state = "CANCELLED";
    o.job = j->rec;
    std::error_code ec;
    fs::remove(j->dir / "job", ec);
    finish(j, std::move(o));
  }
}

}  // namespace pipette
