// `pipette runs`, `runs show ID`, `runs diff A B`: the run store, read back.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "engine/op_impl.hpp"
#include "engine/report_diff.hpp"
#include "engine/run_store.hpp"
#include "engine/value_io.hpp"

namespace pipette::cli {

namespace {

using json = nlohmann::ordered_json;

// What the run store holds came from scripts and files: printed with control
// characters escaped (a report name could otherwise send escape sequences to
// the terminal) and bounded.
std::string shown(const std::string& s) { return excerpt(s, 2000); }

std::string short_params(const std::string& params_json) {
  std::string s;
  auto j = json::parse(params_json, nullptr, false);
  if (j.is_discarded()) return params_json;
  for (auto& [k, v] : j.items()) s += (s.empty() ? "" : " ") + k + "=" + v.dump();
  return s.size() > 48 ? s.substr(0, 45) + "..." : s;
}

std::optional<StoredRun> find_run(const RunStore& store, const std::string& id) {
  auto r = store.get(id);
  if (!r) std::fprintf(stderr, "pipette: error: no run '%s' (see `pipette runs`)\n", id.c_str());
  return r;
}

// "0.29 -> 0.31 (+0.02)" for numbers, "a -> b" otherwise.
std::string change(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return fmt::format("{} -> {} ({:+g})", a.dump(), b.dump(), y - x);
  }
  return a.dump() + " -> " + b.dump();
}

}  // namespace

int runs_command(const RunsArgs& args) {
  try {
    if (!std::filesystem::exists(args.db)) {
      std::fprintf(stderr, "pipette: error: no run store at %s (runs are recorded in the project's .pipette/: the nearest directory upwards that has one, else where `pipette run` ran; or --db FILE)\n",
                   args.db.c_str());
      return 2;
    }
    RunStore store(args.db);
    if (args.action.empty()) {
      auto runs = store.list(args.limit);
      std::printf("%-36s %-11s %-24s %-28s %s\n", "RUN", "STATUS", "STARTED", "SCRIPT", "PARAMS");
      for (auto& r : runs)
        std::printf("%-36s %-11s %-24s %-28s %s\n", shown(r.id).c_str(), r.status.c_str(), r.started.c_str(),
                    shown(r.script).c_str(), shown(short_params(r.params_json)).c_str());
      return 0;
    }
    if (args.action == "show") {
      auto r = find_run(store, args.a);
      if (!r) return 1;
      std::printf("run       %s\nscript    %s (%s)\nparams    %s\nseed      %llu\ndevice    %s\nstatus    %s\n"
                  "started   %s\nfinished  %s\noutput    %s\n",
                  shown(r->id).c_str(), shown(r->script).c_str(), r->script_hash.c_str(), shown(r->params_json).c_str(),
                  static_cast<unsigned long long>(r->seed), r->device.c_str(), r->status.c_str(), r->started.c_str(),
                  r->finished.c_str(), shown(r->out_dir).c_str());
      // The run as a page, when it is still there (issue 27).
      std::error_code ec;
      std::filesystem::path page = std::filesystem::path(r->out_dir) / "report.html";
      if (std::filesystem::exists(page, ec)) std::printf("page      %s\n", shown(page.string()).c_str());
      std::printf("versions  pipette %s, LibTorch %s\n\nreports\n", r->pipette.c_str(), r->libtorch.c_str());
      for (auto& rep : r->reports) std::printf("  %-30s %s\n", shown(rep.name).c_str(), shown(rep.value_json).c_str());
      std::printf("\nnodes\n");
      for (auto& n : r->nodes) {
        std::printf("  %-5s %-28s %-10s %9s  %s%s\n", n.node.c_str(), n.op.c_str(), n.status.c_str(),
                    n.cached ? "cached" : fmt::format("{:.3f} s", n.seconds).c_str(), shown(n.loc).c_str(),
                    n.error.empty() ? "" : ("  " + shown(n.error)).c_str());
        if (auto j = json::parse(n.job, nullptr, false); j.is_object()) {
          // Where a cluster ran it: Slurm's job, host, end state, queue wait and run time.
          std::printf("        %s job %s on %s: %s, %d attempt%s", j.value("executor", "").c_str(),
                      j.value("job_id", "").c_str(), j.value("host", "?").c_str(), j.value("state", "").c_str(),
                      j.value("attempts", 0), j.value("attempts", 0) == 1 ? "" : "s");
          if (j.contains("queue_seconds")) std::printf(", queued %.0f s", j["queue_seconds"].get<double>());
          if (j.contains("run_seconds")) std::printf(", ran %.0f s", j["run_seconds"].get<double>());
          std::printf("\n");
        }
      }
      return 0;
    }
    if (args.action == "compare") return runs_compare(store, args);
    // diff
    auto a = find_run(store, args.a), b = find_run(store, args.b);
    if (!a || !b) return 1;
    std::printf("--- %s\n+++ %s\n", a->id.c_str(), b->id.c_str());
    size_t differences = 0;
    auto pa = json::parse(a->params_json, nullptr, false), pb = json::parse(b->params_json, nullptr, false);
    if (a->script_hash != b->script_hash) {
      std::printf("script    %s -> %s (the script changed)\n", a->script_hash.c_str(), b->script_hash.c_str());
      ++differences;
    }
    if (pa.is_object() && pb.is_object()) {
      for (auto& [k, v] : pa.items()) {
        if (!pb.contains(k)) std::printf("param %-20s %s -> (absent)\n", k.c_str(), v.dump().c_str()), ++differences;
        else if (pb[k] != v) std::printf("param %-20s %s\n", k.c_str(), change(v, pb[k]).c_str()), ++differences;
      }
      for (auto& [k, v] : pb.items())
        if (!pa.contains(k)) std::printf("param %-20s (absent) -> %s\n", k.c_str(), v.dump().c_str()), ++differences;
    }
    if (a->seed != b->seed) std::printf("seed      %llu -> %llu\n", (unsigned long long)a->seed, (unsigned long long)b->seed), ++differences;
    std::map<std::string, std::string> ra, rb;
    for (auto& r : a->reports) ra[r.name] = r.value_json;
    for (auto& r : b->reports) rb[r.name] = r.value_json;
    for (auto& [k, v] : ra) {
      auto it = rb.find(k);
      if (it == rb.end()) {
        std::printf("report %-19s %s -> (absent)\n", shown(k).c_str(), shown(v).c_str()), ++differences;
        continue;
      }
      // Leaf by leaf: numbers as numbers, tensors by their values (equal file
      // names in report.json say nothing about equal contents).
      std::map<std::string, json> la, lb;
      report_leaves(json::parse(v, nullptr, false), "", la);
      report_leaves(json::parse(it->second, nullptr, false), "", lb);
      for (auto& [path, x] : la) {
        std::string name = shown(k + path);
        auto y = lb.find(path);
        if (y == lb.end()) {
          std::printf("report %-19s %s -> (absent)\n", name.c_str(), shown(x.dump()).c_str()), ++differences;
        } else if (is_tensor_leaf(x) || is_tensor_leaf(y->second)) {
          if (auto c = tensor_change(x, y->second, a->out_dir, b->out_dir))
            std::printf("report %-19s %s\n", name.c_str(), shown(*c).c_str()), ++differences;
        } else if (x != y->second) {
          std::printf("report %-19s %s\n", name.c_str(), shown(change(x, y->second)).c_str()), ++differences;
        }
      }
      for (auto& [path, y] : lb)
        if (!la.count(path))
          std::printf("report %-19s (absent) -> %s\n", shown(k + path).c_str(), shown(y.dump()).c_str()), ++differences;
    }
    for (auto& [k, v] : rb)
      if (!ra.count(k)) std::printf("report %-19s (absent) -> %s\n", shown(k).c_str(), shown(v).c_str()), ++differences;
    if (differences == 0) std::printf("no differences in script, params, seed or reports\n");
    return 0;
  } catch (const RunStoreError& e) {
    std::fprintf(stderr, "pipette: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace pipette::cli
