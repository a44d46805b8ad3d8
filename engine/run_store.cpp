#include "engine/run_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <set>
#include <thread>

#include "engine/value_io.hpp"

namespace pipette {

namespace {

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw RunStoreError(std::string("run store: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw RunStoreError(std::string("run store: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    reset();
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(s_, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  double real(int col) const { return sqlite3_column_double(s_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};


constexpr const char* kRunColumns =
    "id, script, script_hash, params, seed, device, libtorch, pipette, started, finished, status, out_dir";

StoredRun run_from(Stmt& s) {
  StoredRun r;
  r.id = s.text(0);
  r.script = s.text(1);
  r.script_hash = s.text(2);
  r.params_json = s.text(3);
  r.seed = static_cast<uint64_t>(s.integer(4));
  r.device = s.text(5);
  r.libtorch = s.text(6);
  r.pipette = s.text(7);
  r.started = s.text(8);
  r.finished = s.text(9);
  r.status = s.text(10);
  r.out_dir = s.text(11);
  return r;
}

}  // namespace

RunStore::RunStore(const std::filesystem::path& db_file) {
  std::error_code ec;
  if (db_file.has_parent_path()) std::filesystem::create_directories(db_file.parent_path(), ec);
  if (ec) throw RunStoreError("cannot create the directory of run store '" + db_file.string() + "': " + ec.message());
  if (sqlite3_open(db_file.c_str(), &db_) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw RunStoreError("cannot open run store '" + db_file.string() + "': " + msg);
  }
  // Concurrent runs (a sweep in several shells) wait for each other's writes.
  sqlite3_busy_timeout(db_, 10000);
  try {
    // Switching a new file to WAL needs a lock SQLite does not wait for with
    // the busy handler: eight first runs at once saw "database is locked" here.
    // WAL is a property of the file, so once one of them has set it the pragma
    // is a no-op for the rest; a few short retries cover the race.
    for (int attempt = 0;; ++attempt) {
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) break;
      if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) exec("PRAGMA journal_mode=WAL");  // throws with the reason
      if (attempt == 200) throw RunStoreError("run store '" + db_file.string() + "' stays locked: " + sqlite3_errmsg(db_));
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + attempt % 20));
    }
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

namespace {
// The schema's version, in SQLite's user_version: 0 is an empty file, 1 the
// first release (runs, nodes, reports), 2 added nodes.peak_bytes and
// nodes.ingredients (files of version 1 may have one of them already), 3
// nodes.job (where a cluster ran the node, as JSON; '' for local nodes), 4
// nodes.warnings (what the op warned of, a JSON list).
constexpr int64_t kSchemaVersion = 4;
}  // namespace

int64_t RunStore::schema_version() const {
  Stmt v(db_, "PRAGMA user_version");
  return v.step() ? v.integer(0) : 0;
}

void RunStore::migrate() {
  if (schema_version() >= kSchemaVersion) return;
  // Several first runs at once (a sweep started in many shells): the write
  // lock makes one of them migrate while the others wait, then find the work
  // done. Without it two of them saw a column missing and both added it.
  exec("BEGIN IMMEDIATE");
  try {
    if (schema_version() < kSchemaVersion) {
      exec(
          "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, script TEXT, script_hash TEXT, params TEXT, "
          "seed INTEGER, device TEXT, libtorch TEXT, pipette TEXT, started TEXT, finished TEXT, status TEXT, "
          "out_dir TEXT);"
          "CREATE TABLE IF NOT EXISTS nodes (run_id TEXT, node TEXT, op TEXT, key TEXT, loc TEXT, status TEXT, "
          "cached INTEGER, seconds REAL, error TEXT);"
          "CREATE TABLE IF NOT EXISTS reports (run_id TEXT, name TEXT, value TEXT);"
          "CREATE INDEX IF NOT EXISTS nodes_run ON nodes(run_id);"
          "CREATE INDEX IF NOT EXISTS reports_run ON reports(run_id);");
      std::set<std::string> have;
      {
        Stmt cols(db_, "PRAGMA table_info(nodes)");
        while (cols.step()) have.insert(cols.text(1));
      }
      if (!have.count("peak_bytes")) exec("ALTER TABLE nodes ADD COLUMN peak_bytes INTEGER DEFAULT -1");
      if (!have.count("ingredients")) exec("ALTER TABLE nodes ADD COLUMN ingredients TEXT DEFAULT '[]'");
      if (!have.count("job")) exec("ALTER TABLE nodes ADD COLUMN job TEXT DEFAULT ''");
      if (!have.count("warnings")) exec("ALTER TABLE nodes ADD COLUMN warnings TEXT DEFAULT '[]'");
      exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    }
    exec("COMMIT");
  } catch (...) {
    exec_noexcept("ROLLBACK");
    throw;
  }
}

RunStore::~RunStore() { sqlite3_close(db_); }

void RunStore::exec_noexcept(const std::string& sql) const { sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }

void RunStore::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw RunStoreError("run store: " + msg);
  }
}

void RunStore::record(const Graph& g, const Execution& e, const RunInfo& info, const std::filesystem::path& out_dir) {
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  for (auto& [k, v] : g.params) params[k] = value_to_json(constant_value(v));
  exec("BEGIN IMMEDIATE");
  try {
    Stmt run(db_, "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    run.bind(1, info.run_id).bind(2, info.script).bind(3, info.script_hash)
        .bind(4, params.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace))
        .bind(5, static_cast<int64_t>(info.seed)).bind(6, info.device).bind(7, libtorch_version())
        .bind(8, std::string(PIPETTE_VERSION)).bind(9, info.started).bind(10, info.finished).bind(11, info.status)
        .bind(12, out_dir.string());
    run.run();
    Stmt node(db_,
              "INSERT INTO nodes (run_id, node, op, key, loc, status, cached, seconds, error, peak_bytes, ingredients, "
              "job, warnings) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (auto& n : g.nodes) {
      const NodeOutcome& o = e.nodes[n.id];
      nlohmann::json parts = nlohmann::json::array();
      if (n.id < e.ingredients.size())
        for (auto& [k, v] : e.ingredients[n.id]) parts.push_back({k, v});
      node.bind(1, info.run_id).bind(2, node_name(n.id)).bind(3, n.op).bind(4, e.keys[n.id].hex())
          .bind(5, n.loc.to_string()).bind(6, std::string(status_name(o.status))).bind(7, int64_t{o.cached})
          .bind(8, o.seconds).bind(9, o.error).bind(10, o.peak_bytes)
          .bind(11, parts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
          .bind(12, o.job ? job_record_json(*o.job) : std::string())
          .bind(13, nlohmann::json(o.warnings).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      node.run();
    }
    Stmt rep(db_, "INSERT INTO reports VALUES (?,?,?)");
    for (auto& [name, v] : e.reports) {
      // Large tensors are recorded as report.json records them: by their file
      // in the run's directory.
      rep.bind(1, info.run_id).bind(2, name)
          .bind(3, value_to_json(v, report_tensor_sink(name, report_tensor_count(v)))
                       .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
      rep.run();
    }
    exec("COMMIT");
  } catch (...) {
    exec_noexcept("ROLLBACK");
    throw;
  }
}

std::vector<StoredRun> RunStore::list(size_t limit) const {
  Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started DESC, rowid DESC LIMIT ?").c_str());
  s.bind(1, static_cast<int64_t>(limit));
  std::vector<StoredRun> out;
  while (s.step()) out.push_back(run_from(s));
  return out;
}

std::optional<StoredRun> RunStore::get(const std::string& id) const {
  Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ? OR id LIKE ? || '%'").c_str());
  s.bind(1, id).bind(2, id);
  std::vector<StoredRun> found;
  while (s.step()) found.push_back(run_from(s));
  if (found.empty()) return std::nullopt;
  StoredRun r = found.front();
  for (auto& f : found)
    if (f.id == id) r = f;
  if (found.size() > 1 && r.id != id) throw RunStoreError("'" + id + "' matches several runs; give more of the id");
  load_details(r);
  return r;
}

std::optional<StoredRun> RunStore::latest_of(const std::string& script) const {
  Stmt s(db_, (std::string("SELECT ") + kRunColumns +
               " FROM runs WHERE script = ? ORDER BY started DESC, rowid DESC LIMIT 1").c_str());
  s.bind(1, script);
  if (!s.step()) return std::nullopt;
  StoredRun r = run_from(s);
  load_details(r);
  return r;
}

std::map<std::string, ComputedWarnings> RunStore::warnings_when_computed(const std::vector<std::string>& keys) const {
  std::map<std::string, ComputedWarnings> out;
  Stmt s(db_,
         "SELECT n.run_id, n.warnings FROM nodes n JOIN runs r ON r.id = n.run_id "
         "WHERE n.key = ? AND n.cached = 0 AND n.status = 'done' ORDER BY r.started DESC, n.rowid DESC LIMIT 1");
  for (auto& key : keys) {
    s.bind(1, key);
    if (s.step()) {
      auto list = nlohmann::json::parse(s.text(1), nullptr, false);
      ComputedWarnings w{s.text(0), {}};
      if (list.is_array())
        for (auto& m : list)
          if (m.is_string()) w.warnings.push_back(m.get<std::string>());
      if (!w.warnings.empty()) out.emplace(key, std::move(w));
    }
    s.reset();
  }
  return out;
}

void RunStore::load_details(StoredRun& r) const {
  Stmt n(db_,
         "SELECT node, op, key, loc, status, cached, seconds, error, peak_bytes, ingredients, job FROM nodes "
         "WHERE run_id = ? ORDER BY rowid");
  n.bind(1, r.id);
  while (n.step()) {
    StoredRun::NodeRow row{n.text(0), n.text(1), n.text(2), n.text(3), n.text(4), n.text(7), n.integer(5) != 0,
                           n.real(6), n.integer(8), {}, n.text(10)};
    auto parts = nlohmann::json::parse(n.text(9), nullptr, false);
    if (parts.is_array())
      for (auto& p : parts)
        if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string())
          row.ingredients.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
    r.nodes.push_back(std::move(row));
  }
  Stmt rep(db_, "SELECT name, value FROM reports WHERE run_id = ? ORDER BY rowid");
  rep.bind(1, r.id);
  while (rep.step()) r.reports.push_back({rep.text(0), rep.text(1)});
}

}  // namespace pipette
