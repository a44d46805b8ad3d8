#include "script_runs.hpp"

#include <pybind11/stl.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <variant>

#include "cli/compile_setup.hpp"
#include "cli/plugin_loading.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/project_dir.hpp"
#include "cli/run_flow.hpp"
#include "cli/run_options.hpp"
#include "diagnostics_py.hpp"
#include "engine/executor.hpp"
#include "engine/run_report.hpp"
#include "interruptible.hpp"
#include "session.hpp"
#include "stdlib/stdlib.hpp"
#include "values.hpp"

namespace pipette::python {

namespace fs = std::filesystem;

namespace {

struct Compiled {
  std::unique_ptr<lang::Compiler> compiler;
  std::optional<Graph> graph;
  std::string usage_error;  // a malformed NAME=VALUE
};

Compiled compile_source(const std::string& source, bool is_path, const std::string& name,
                        const std::vector<std::string>& sets) {
  Compiled c;
  lang::CompileOptions options = cli::compile_options(session().options);
  if (auto err = cli::parse_sets(sets, options.sets)) {
    c.usage_error = *err;
    return c;
  }
  c.compiler = std::make_unique<lang::Compiler>(cli::builtin_registry(), options);
  py::gil_scoped_release release;
  c.graph = is_path ? c.compiler->compile_file(source) : c.compiler->compile_text(name, source);
  return c;
}

py::dict compiled_to_python(const Compiled& c) {
  py::dict d;
  if (!c.usage_error.empty()) {
    py::dict diag;
    diag["file"] = py::none(), diag["line"] = py::none(), diag["column"] = py::none();
    diag["severity"] = "error";
    diag["message"] = c.usage_error;
    diag["hints"] = py::list(), diag["notes"] = py::list();
    py::list l;
    l.append(diag);
    d["diagnostics"] = l;
    d["ok"] = false;
    return d;
  }
  d["diagnostics"] = diagnostics_to_python(*c.compiler);
  d["ok"] = c.graph.has_value();
  return d;
}

py::dict node_to_python(const Node& n, const NodeOutcome& o) {
  py::dict d;
  d["id"] = n.id;
  d["op"] = n.op;
  d["file"] = n.loc.file;
  d["line"] = n.loc.line;
  d["column"] = n.loc.column;
  d["status"] = status_name(o.status);
  d["cached"] = o.cached;
  d["seconds"] = o.seconds;
  d["started"] = o.started >= 0 ? py::object(py::float_(o.started)) : py::object(py::none());
  d["peak_bytes"] = o.peak_bytes;
  d["error"] = o.error.empty() ? py::object(py::none()) : py::object(py::str(o.error));
  d["warning"] = o.warning.empty() ? py::object(py::none()) : py::object(py::str(o.warning));
  py::list warnings;
  for (auto& w : o.warnings) warnings.append(w);
  d["warnings"] = warnings;
  return d;
}

py::dict not_run(const std::string& why) {
  py::dict d;
  d["status"] = "not run";
  d["error"] = why;
  return d;
}

}  // namespace

py::dict check_source(const std::string& source, bool is_path, const std::string& name,
                      const std::vector<std::string>& sets) {
  return compiled_to_python(compile_source(source, is_path, name, sets));
}

py::dict graph_source(const std::string& source, bool is_path, const std::string& name,
                      const std::vector<std::string>& sets) {
  Compiled c = compile_source(source, is_path, name, sets);
  py::dict d = compiled_to_python(c);
  d["graph"] = c.graph ? py::object(py::str(graph_to_json(*c.graph))) : py::object(py::none());
  return d;
}

py::dict run_script(const ScriptRunArgs& a, py::object progress) {
  Session& s = session();
  Compiled c = compile_source(a.path, true, a.path, a.sets);
  if (!c.graph) {
    py::dict d = compiled_to_python(c);
    d["status"] = "invalid";
    return d;
  }
  Graph& graph = *c.graph;
  auto budget = a.memory_budget.empty() ? std::variant<uint64_t, std::string>(cli::default_memory_budget())
                                        : cli::parse_bytes(a.memory_budget);
  if (auto* err = std::get_if<std::string>(&budget)) return not_run("memory_budget: " + *err);
  auto device = cli::choose_device(a.device);
  if (!device) return not_run("device='cuda', but this LibTorch build sees no CUDA device");

  OpLibrary lib = stdlib::library();
  std::string errors;
  if (!graph.plugins.empty() && !cli::load_declared_plugins(s.options, graph, lib, &errors))
    return not_run("a plugin could not be loaded: " + errors);
  if (auto missing = cli::unimplemented_op_errors(graph, lib.impls); !missing.empty()) return not_run(missing.front());

  fs::path script(a.path);
  fs::path script_dir = script.has_parent_path() ? script.parent_path() : fs::path(".");
  std::optional<Cache> cache;
  if (a.use_cache)
    if (auto err = cli::open_run_cache(cache, a.cache)) return not_run(*err);
  std::string run_id = cli::new_run_id(script);
  fs::path out = a.out.empty() ? cli::project_dir() / "runs" / run_id : fs::path(a.out);
  if (auto err = cli::prepare_out_dir(out, a.force, run_id)) return not_run(*err);

  std::atomic<bool> cancel{false};
  RunOptions ro;
  ro.jobs = a.jobs;
  ro.seed = a.seed;
  ro.device = *device;
  ro.out_dir = out;
  ro.script_dir = script_dir;
  ro.cancel = &cancel;
  ro.cache = cache ? &*cache : nullptr;
  ro.memory_budget = std::get<uint64_t>(budget);
  std::mutex log_mu;
  std::vector<std::pair<int, std::string>> log;
  ro.log = [&](const Node& n, int level, const std::string& msg) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.emplace_back(level, n.loc.to_string() + ": n" + std::to_string(n.id) + " " + n.op + ": " + msg);
  };
  std::atomic<size_t> finished{0};
  auto observer = [&](const Node&, const NodeOutcome& o) {
    if (o.status != NodeOutcome::Status::Pending) ++finished;
  };

  RunInfo info = cli::start_run_info(a.path, run_id, a.seed, *device, "local");
  if (c.compiler) info.warnings = cli::compile_warnings(*c.compiler);

  Execution e;
  size_t total = graph.nodes.size();
  auto interrupt = run_interruptibly([&] { e = execute(graph, lib.ops, lib.impls, ro, observer); }, cancel, [&] {
    if (!progress.is_none()) progress(finished.load(), total);
  });
  info.finished = utc_now_iso();
  info.status = interrupt ? "interrupted" : e.ok() ? "ok" : "failed";
  cli::RunRecord rec;
  {
    py::gil_scoped_release release;
    rec = cli::record_run(out, graph, e, info);
  }
  if (interrupt) throw std::move(*interrupt);

  py::dict d;
  d["status"] = info.status;
  d["run_id"] = run_id;
  d["out"] = fs::absolute(out).string();
  d["report"] = rec.report_written ? py::object(py::str(rec.report.string())) : py::object(py::none());
  d["report_error"] = rec.report_error;
  d["store_warning"] = rec.store_warning;
  d["html"] = rec.html.empty() ? py::object(py::none()) : py::object(py::str(rec.html.string()));
  d["html_warning"] = rec.html_warning;
  py::dict reports;
  for (auto& [name, v] : e.reports) reports[py::str(name)] = to_python(v);
  d["reports"] = reports;
  py::list nodes;
  for (const Node& n : graph.nodes) nodes.append(node_to_python(n, e.nodes[n.id]));
  d["nodes"] = nodes;
  py::list failures;
  for (const Node& n : graph.nodes)
    if (e.nodes[n.id].status == NodeOutcome::Status::Failed) {
      py::dict f = node_to_python(n, e.nodes[n.id]);
      f["message"] = format_node_error(n, e.nodes[n.id].error);
      failures.append(f);
    }
  d["failures"] = failures;
  py::list missing;
  for (auto& m : e.missing_reports) missing.append(m);
  d["missing_reports"] = missing;
  py::dict report_errors;
  for (auto& [k, v] : e.report_errors) report_errors[py::str(k)] = v;
  d["report_errors"] = report_errors;
  py::list logs;
  for (auto& [level, msg] : log) logs.append(py::make_tuple(level >= OpContext::Warn ? "warning" : "info", msg));
  d["log"] = logs;
  py::dict counts;
  counts["computed"] = e.computed, counts["cached"] = e.cached, counts["failed"] = e.failed;
  counts["skipped"] = e.skipped, counts["cancelled"] = e.cancelled, counts["unneeded"] = e.unneeded;
  d["counts"] = counts;
  return d;
}

py::list op_signatures() {
  Session& s = session();
  std::vector<OpSignature> sigs;
  for (const OpSignature* sig : cli::builtin_registry().ops()) sigs.push_back(*sig);
  {
    py::gil_scoped_release release;
    for (const auto& rec : cli::plugin_registry(s.options).plugins())
      if (rec.status == PluginRecord::Status::Ok)
        for (auto sig : rec.ops) {
          sig.set_plugin(rec.name);
          sigs.push_back(std::move(sig));
        }
  }
  py::list out;
  for (const OpSignature& sig : sigs) {
    py::dict d;
    d["name"] = sig.name();
    d["doc"] = sig.doc();
    d["plugin"] = sig.plugin();
    d["returns"] = sig.output().to_string();
    d["returns_doc"] = sig.output_doc();
    d["side_effects"] = sig.has_side_effects();
    d["stochastic"] = sig.is_stochastic();
    d["signature"] = sig.to_string();
    py::list params;
    for (const ParamSpec& p : sig.params()) {
      py::dict q;
      q["name"] = p.name;
      q["type"] = p.type.to_string();
      q["doc"] = p.doc;
      q["required"] = p.required;
      q["default"] = p.required ? py::object(py::none()) : to_python(constant_value(p.default_value));
      q["choices"] = py::cast(p.choices);
      q["min"] = p.min ? py::object(py::float_(*p.min)) : py::object(py::none());
      q["max"] = p.max ? py::object(py::float_(*p.max)) : py::object(py::none());
      q["compile_time"] = p.compile_time;
      params.append(q);
    }
    d["params"] = params;
    out.append(d);
  }
  return out;
}

}  // namespace pipette::python
