#include "engine/slurm_client.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace pipette {

std::optional<std::string> find_on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return std::filesystem::absolute(name).string();
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    std::error_code ec;
    if (::access(candidate.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

std::vector<SqueueRow> parse_squeue(const std::string& text) {
  std::vector<SqueueRow> rows;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t at = 0;
    for (int i = 0; i < 4; ++i) {
      size_t bar = line.find('|', at);
      if (bar == std::string::npos) break;
      f.push_back(line.substr(at, bar - at));
      at = bar + 1;
    }
    if (f.size() != 4) continue;  // not one of ours (a warning line)
    f.push_back(line.substr(at));
    rows.push_back({f[0], f[1], f[2], f[3], f[4]});
  }
  return rows;
}

std::map<std::string, std::string> parse_scontrol_job(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream in(text);
  std::string token;
  while (in >> token) {
    size_t eq = token.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // a value's continuation after a space
    out.emplace(token.substr(0, eq), token.substr(eq + 1));
  }
  return out;
}

const char* const kSacctFields = "JobID,State,ExitCode,NodeList,Submit,Start,End";

std::vector<SacctRow> parse_sacct(const std::string& text) {
  std::vector<SacctRow> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> f;
    for (size_t at = 0;;) {
      size_t bar = line.find('|', at);
      f.push_back(line.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
      if (bar == std::string::npos) break;
      at = bar + 1;
    }
    if (f.size() < 7 || f[0].empty()) continue;  // a warning line, or a format this version does not print
    // "CANCELLED by 1000": the state is the first word.
    std::string state = f[1].substr(0, f[1].find(' '));
    out.push_back({f[0], state, f[2], f[3], f[4], f[5], f[6]});
  }
  return out;
}

std::optional<std::time_t> parse_slurm_time(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end || *end) return std::nullopt;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return t;
}

bool is_terminal_state(const std::string& state) {
  static const char* const kTerminal[] = {"COMPLETED", "FAILED",  "CANCELLED", "TIMEOUT",   "OUT_OF_MEMORY",
                                          "NODE_FAIL", "BOOT_FAIL", "DEADLINE",  "PREEMPTED", "REVOKED",
                                          "SPECIAL_EXIT"};
  for (const char* s : kTerminal)
    if (state.rfind(s, 0) == 0) return true;  // "CANCELLED by 0" is CANCELLED
  return false;
}

JobEnd classify_job_end(const std::string& state, int exit_status, int signal) {
  using namespace exec_node_exit;
  if (state == "COMPLETED" && exit_status == kOk && signal == 0) return JobEnd::Done;
  // The job ran and pipette said why it failed: retrying changes nothing.
  if (signal == 0 && (exit_status == kUsage || exit_status == kOpFailed || exit_status == kInputsMissing))
    return JobEnd::UserError;
  // The machine, not the node: out of memory, a node that died, a job
  // cancelled or preempted by someone else, or killed (the kernel's OOM
  // killer sends 9; 128 + 9 when a shell relays it).
  if (state.rfind("OUT_OF_MEMORY", 0) == 0 || state.rfind("NODE_FAIL", 0) == 0 || state.rfind("BOOT_FAIL", 0) == 0 ||
      state.rfind("PREEMPTED", 0) == 0 || state.rfind("CANCELLED", 0) == 0 || signal == 9 || exit_status == 137 ||
      exit_status == kCacheUnwritable)
    return JobEnd::Retry;
  return JobEnd::Fail;  // TIMEOUT (the request's time=), a crash, DEADLINE
}

std::pair<int, int> parse_exit_code(const std::string& text) {
  int status = 0, sig = 0;
  size_t colon = text.find(':');
  try {
    status = std::stoi(text.substr(0, colon));
    if (colon != std::string::npos) sig = std::stoi(text.substr(colon + 1));
  } catch (const std::exception&) {
    return {-1, 0};
  }
  return {status, sig};
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace pipette
