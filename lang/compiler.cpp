#include "lang/compiler.hpp"

#include "lang/elaborator.hpp"
#include "lang/modules.hpp"
#include "lang/passes.hpp"

namespace pipette::lang {

Compiler::Compiler(const OpRegistry& ops, CompileOptions options) : ops_(ops), options_(std::move(options)) {}
Compiler::~Compiler() = default;

std::optional<Graph> Compiler::compile_file(const std::string& path) {
  std::string err;
  auto file = sources_.load(path, &err);
  if (!file) {
    diags_.error(std::nullopt, err);
    io_error_ = true;
    return std::nullopt;
  }
  return compile(*file);
}

std::optional<Graph> Compiler::compile_text(const std::string& name, std::string text) {
  return compile(sources_.add(name, std::move(text)));
}

std::optional<Graph> Compiler::compile(FileId main) {
  ModuleSet modules = load_modules(sources_, diags_, main, options_.module_path);
  Graph g = Elaborator(ops_, sources_, diags_, options_, modules).run();
  diags_.finalize(sources_);
  if (diags_.has_errors()) return std::nullopt;
  if (options_.optimize) {
    merge_common_nodes(g);
    drop_dead_nodes(g);
  }
  return g;
}

std::string Compiler::render_diagnostics(bool color) const {
  RenderOptions opts;
  opts.color = color;
  return render(diags_, sources_, opts);
}

}  // namespace pipette::lang
