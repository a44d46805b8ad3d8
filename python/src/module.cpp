// The compiled half of the `pipette` Python package (python/pipette/): the
// package's Python code wraps these functions into pipette.check, .graph,
// .run and .ops. Everything long runs with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <spdlog/spdlog.h>

#include "cli/plugin_setup.hpp"
#include "op_calls.hpp"
#include "script_runs.hpp"
#include "session.hpp"
#include "stdlib/stdlib.hpp"
#include "values.hpp"

namespace py = pybind11;

namespace pipette::python {

Session& session() {
  static Session* s = [] {
    auto* fresh = new Session;  // lives as long as the process: plugins' code stays mapped
    fresh->call_lib = stdlib::library();
    return fresh;
  }();
  return *s;
}

namespace {

void configure(const std::string& pipette_exe, const std::vector<std::string>& plugin_path,
               const std::vector<std::string>& module_path, const std::string& log_level) {
  Session& s = session();
  cli::set_host_executable(pipette_exe);
  s.options.plugin_path = plugin_path;
  s.options.module_path = module_path;
  s.options.color = "never";
  spdlog::set_level(spdlog::level::from_str(log_level));
}

}  // namespace

}  // namespace pipette::python

PYBIND11_MODULE(_pipette, m) {
  using namespace pipette::python;
  m.doc() = "pipette's engine, for the pipette package";
  m.attr("version") = PIPETTE_VERSION;
  define_placeholder_ops();
  m.def("configure", &configure, py::arg("pipette_exe"), py::arg("plugin_path"), py::arg("module_path"),
        py::arg("log_level") = "warn");
  m.def("check", &check_source, py::arg("source"), py::arg("is_path"), py::arg("name"), py::arg("sets"));
  m.def("graph", &graph_source, py::arg("source"), py::arg("is_path"), py::arg("name"), py::arg("sets"));
  m.def(
      "run",
      [](const std::string& path, const std::vector<std::string>& sets, const std::string& out, bool force,
         const std::string& device, int jobs, const std::string& cache, bool use_cache, uint64_t seed,
         const std::string& memory_budget, py::object progress) {
        ScriptRunArgs a;
        a.path = path, a.sets = sets, a.out = out, a.force = force, a.device = device, a.jobs = jobs;
        a.cache = cache, a.use_cache = use_cache, a.seed = seed, a.memory_budget = memory_budget;
        return run_script(a, std::move(progress));
      },
      py::arg("path"), py::arg("sets"), py::arg("out"), py::arg("force"), py::arg("device"), py::arg("jobs"),
      py::arg("cache"), py::arg("use_cache"), py::arg("seed"), py::arg("memory_budget"), py::arg("progress"));
  m.def("signatures", &op_signatures);
  // A model loaded once and handed to many op calls (pipette.ops keeps one per
  // Python module object while its parameters stay the same).
  py::class_<ModelHandle>(m, "ModelHandle");
  m.def("load_model", [](const std::string& bytes) { return ModelHandle{model_from_bytes(bytes)}; });
  m.def("call_op", &call_op, py::arg("text"), py::arg("slots"), py::arg("device"), py::arg("progress"));
}
