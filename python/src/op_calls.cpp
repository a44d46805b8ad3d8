#include "op_calls.hpp"

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "cli/compile_setup.hpp"
#include "cli/plugin_loading.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/run_options.hpp"
#include "diagnostics_py.hpp"
#include "engine/dataset.hpp"
#include "engine/executor.hpp"
#include "interruptible.hpp"
#include "session.hpp"
#include "values.hpp"

namespace pipette::python {

namespace {

// The values of the calls in flight, by call number.
std::mutex g_slots_mu;
std::map<int64_t, std::vector<Value>> g_slots;
std::atomic<int64_t> g_next_call{1};

Value slot_value(const OpArgs& a) {
  std::lock_guard<std::mutex> lock(g_slots_mu);
  auto it = g_slots.find(a.int_("call"));
  int64_t slot = a.int_("slot");
  if (it == g_slots.end() || slot < 0 || slot >= static_cast<int64_t>(it->second.size()))
    throw OpError("internal error: no Python value in slot " + std::to_string(slot));
  return it->second[slot];
}

OpSignature placeholder(const std::string& name, const std::string& type) {
  OpSignature s(name, "A value handed over from Python (pipette.ops).");
  s.param("call", "int", Operand::integer(0), "The call").param("slot", "int", Operand::integer(0), "Its slot");
  s.returns(type).passes_nonfinite();  // the op that reads it checks it, with its own message
  return s;
}

// Removes a call's values however it ends.
struct SlotsGuard {
  int64_t call;
  ~SlotsGuard() {
    std::lock_guard<std::mutex> lock(g_slots_mu);
    g_slots.erase(call);
  }
};

}  // namespace

void define_placeholder_ops() {
  OpLibrary& lib = session().call_lib;
  auto run = [](const OpArgs& a, OpContext&) -> Value { return slot_value(a); };
  lib.define(placeholder("python.tensor", "tensor"), run);
  lib.define(placeholder("python.model", "model"), run);
  lib.define(placeholder("python.dataset", "dataset"), run);
  lib.define(placeholder("python.value", "any"), run);
  session().compile_ops = lib.ops;
}

py::dict call_op(const std::string& text, py::list slots, const std::string& device, py::object progress) {
  Session& s = session();
  int64_t call = g_next_call++;
  std::vector<Value> values;
  for (auto item : slots) {
    py::tuple pair = item.cast<py::tuple>();
    std::string kind = pair[0].cast<std::string>();
    py::object v = pair[1];
    if (kind == "tensor") values.emplace_back(tensor_from_python(v));
    else if (kind == "model") values.push_back(v.cast<ModelHandle&>().model);
    else if (kind == "dataset") {
      std::vector<std::pair<std::string, at::Tensor>> fields;
      for (auto kv : v.cast<py::dict>()) fields.emplace_back(py::str(kv.first), tensor_from_python(kv.second));
      values.push_back(make_dataset(tensor_dataset(std::move(fields), "a dataset from Python")));
    } else values.push_back(value_from_python(v));
  }
  {
    std::lock_guard<std::mutex> lock(g_slots_mu);
    g_slots[call] = std::move(values);
  }
  SlotsGuard guard{call};
  std::string script = text;
  for (size_t at; (at = script.find("__CALL__")) != std::string::npos;) script.replace(at, 8, std::to_string(call));

  py::dict out;
  lang::CompileOptions options = cli::compile_options(s.options);
  options.optimize = false;  // one call: nothing to share or drop
  lang::Compiler compiler(s.compile_ops, options);
  std::optional<Graph> graph;
  {
    py::gil_scoped_release release;  // plugin scans may take a moment
    std::shared_lock<std::shared_mutex> lock(s.lib_mu);
    graph = compiler.compile_text("<pipette.ops>", script);
  }
  if (!graph) {
    out["ok"] = false;
    out["stage"] = "compile";
    out["diagnostics"] = diagnostics_to_python(compiler);
    return out;
  }
  if (!graph->plugins.empty()) {
    std::string errors;
    bool loaded;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::shared_mutex> lock(s.lib_mu);
      loaded = cli::load_declared_plugins(s.options, *graph, s.call_lib, &errors);
    }
    if (!loaded) {
      out["ok"] = false;
      out["stage"] = "load";
      out["error"] = errors;
      return out;
    }
  }
  RunOptions ro;
  std::atomic<bool> cancel{false};
  ro.cancel = &cancel;
  ro.device = c10::Device(device);
  ro.out_dir = std::filesystem::current_path();
  ro.script_dir = std::filesystem::current_path();
  ro.jobs = 1;
  static const uint64_t budget = cli::default_memory_budget();  // as pipette run's: what chunked methods size passes by
  ro.memory_budget = budget;
  std::atomic<uint64_t> done{0}, total{0};
  if (!progress.is_none())
    ro.progress = [&](const Node& n, uint64_t d, uint64_t t) {
      if (n.op.rfind("python.", 0) == 0) return;
      done.store(d), total.store(t);
    };
  Execution e;
  auto interrupt = run_interruptibly(
      [&] {
        std::shared_lock<std::shared_mutex> lock(s.lib_mu);
        e = execute(*graph, s.call_lib.ops, s.call_lib.impls, ro);
      },
      cancel, [&] {
        if (!progress.is_none() && total.load()) progress(done.load(), total.load());
      });
  if (interrupt) throw std::move(*interrupt);
  for (const Node& n : graph->nodes) {
    const NodeOutcome& o = e.nodes[n.id];
    if (o.status != NodeOutcome::Status::Failed) continue;
    out["ok"] = false;
    out["stage"] = "run";
    out["op"] = n.op;
    out["error"] = o.error;
    return out;
  }
  out["ok"] = true;
  double seconds = 0;  // the op's own time, the placeholders' aside
  for (const Node& n : graph->nodes)
    if (n.op.rfind("python.", 0) != 0) seconds += e.nodes[n.id].seconds;
  out["seconds"] = seconds;
  out["value"] = e.reports.empty() ? py::none() : to_python(e.reports.front().second);
  return out;
}

}  // namespace pipette::python
