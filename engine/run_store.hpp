// Every run recorded in SQLite (`.pipette/runs.db`): what ran (script, hash,
// params, versions, device), how it went (status, per-node op, cache hit, time,
// error) and what it reported. `pipette runs` lists, shows and diffs them.
#pragma once

#include "engine/api.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/run_report.hpp"

struct sqlite3;

namespace pipette {

class PIPETTE_API RunStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoredRun {
  std::string id, script, script_hash, params_json, device, libtorch, pipette, started, finished, status, out_dir;
  uint64_t seed = 0;
  struct NodeRow {
    std::string node, op, key, loc, status, error;
    bool cached = false;
    double seconds = 0;
    int64_t peak_bytes = -1;
    Ingredients ingredients;  // what its provenance key was made of
    std::string job;          // where a cluster ran it (JSON, engine/offload.hpp); empty for local nodes
  };
  struct ReportRow {
    std::string name, value_json;
  };
  std::vector<NodeRow> nodes;
  std::vector<ReportRow> reports;
};

// What an op warned of when it computed a node, and in which run.
struct ComputedWarnings {
  std::string run_id;
  std::vector<std::string> warnings;
};

class PIPETTE_API RunStore {
 public:
  explicit RunStore(const std::filesystem::path& db_file);  // creates it (and its tables) if missing
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  void record(const Graph& g, const Execution& e, const RunInfo& info, const std::filesystem::path& out_dir);
  std::vector<StoredRun> list(size_t limit = 50) const;     // newest first, without nodes/reports
  std::optional<StoredRun> get(const std::string& id) const;  // an id, or a unique prefix of one
  // The newest run of `script` (the path as given to `pipette run`), with its nodes.
  std::optional<StoredRun> latest_of(const std::string& script) const;
  // By provenance key (hex): the warnings of the newest run that computed it,
  // for the keys whose computation warned. A node loaded from the cache did
  // not compute, and would otherwise show none of them.
  std::map<std::string, ComputedWarnings> warnings_when_computed(const std::vector<std::string>& keys) const;

 private:
  void exec(const std::string& sql) const;
  void exec_noexcept(const std::string& sql) const;  // a rollback on the way out of an error
  int64_t schema_version() const;
  void migrate();  // creates or upgrades the schema, safely under concurrent first runs
  void load_details(StoredRun& r) const;
  sqlite3* db_ = nullptr;
};

}  // namespace pipette
