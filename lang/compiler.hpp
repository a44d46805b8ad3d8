// The front end's entry point: source text in, checked and lowered graph out.
//   parse (parser.hpp) -> load imports (modules.hpp) -> elaborate: resolve names,
//   type check, inline pipelines, expand loops (elaborator.hpp) -> passes: merge
//   common subexpressions, drop dead nodes (passes.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph.hpp"
#include "engine/op_registry.hpp"
#include "lang/diagnostics.hpp"

namespace pipette::lang {

// Loads the signatures of plugin NAME into `into`. Returns an error message, or
// nullopt on success. The engine provides the real one (registry cache).
using PluginResolver = std::function<std::optional<std::string>(const std::string& name, OpRegistry& into)>;

struct CompileOptions {
  std::vector<std::pair<std::string, std::string>> sets;  // --set NAME=VALUE, in order given
  std::vector<std::string> module_path;                   // searched by `import name`
  PluginResolver resolve_plugin;                          // may be empty: then `plugin` is an error
  uint64_t max_nodes = 1'000'000;                         // a bound on loop/pipeline expansion
  bool optimize = true;                                   // run CSE and dead-node elimination
};

class Compiler {
 public:
  Compiler(const OpRegistry& ops, CompileOptions options);
  ~Compiler();

  // nullopt when there were errors (see diagnostics()). A file that cannot be read
  // is an error without a span.
  std::optional<Graph> compile_file(const std::string& path);
  std::optional<Graph> compile_text(const std::string& name, std::string text);

  const Diagnostics& diagnostics() const { return diags_; }
  const SourceManager& sources() const { return sources_; }
  std::string render_diagnostics(bool color = false) const;

  // True when the last compile failed because a file could not be read (exit 2).
  bool io_error() const { return io_error_; }

 private:
  std::optional<Graph> compile(FileId main);

  const OpRegistry& ops_;
  CompileOptions options_;
  SourceManager sources_;
  Diagnostics diags_;
  bool io_error_ = false;
};

}  // namespace pipette::lang
