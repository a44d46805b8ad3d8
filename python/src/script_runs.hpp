// pipette.check, pipette.graph, pipette.run and the op signatures behind
// pipette.ops: what the `pipette` command does, as Python values.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace pipette::python {

namespace py = pybind11;

// Compiles a file (is_path) or a text named `name`; every diagnostic.
py::dict check_source(const std::string& source, bool is_path, const std::string& name,
                      const std::vector<std::string>& sets);
// As check_source, plus "graph": the graph as JSON text when it compiled.
py::dict graph_source(const std::string& source, bool is_path, const std::string& name,
                      const std::vector<std::string>& sets);

struct ScriptRunArgs {
  std::string path;
  std::vector<std::string> sets;  // NAME=VALUE, as --set
  std::string out;                // empty: the project's runs/<run id>
  bool force = false;
  std::string device = "cpu";
  int jobs = 0;
  std::string cache;  // empty: the project's cache
  bool use_cache = true;
  uint64_t seed = 0;
  std::string memory_budget;  // empty: a quarter of physical memory
};
// A dict: status, run_id, out, report, reports, nodes, warnings, ... or
// {"status": "invalid", "diagnostics": [...]} when it does not compile, or
// {"status": "not run", "error": ...}. Raises KeyboardInterrupt after
// Ctrl-C, once the run is recorded as interrupted.
py::dict run_script(const ScriptRunArgs& a, py::object progress);

// Every op the standard library and the plugins in the search path have,
// as dicts (name, doc, plugin, returns, params [{name, type, doc, required,
// default, choices, min, max}]).
py::list op_signatures();

}  // namespace pipette::python
