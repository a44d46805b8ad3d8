#include "lang/modules.hpp"

#include <filesystem>
#include <map>

#include "lang/parser.hpp"

namespace pipette::lang {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxImportDepth = 64;

class Loader {
 public:
  Loader(SourceManager& sm, Diagnostics& diags, const std::vector<std::string>& module_path)
      : sm_(sm), diags_(diags), module_path_(module_path) {}

  ModuleSet run(FileId main) {
    auto m = std::make_unique<Module>();
    m->file = main;
    m->key = key_of(sm_.file(main).path());
    m->program = parse_program(sm_, main, diags_);
    Module* raw = m.get();
    set_.modules.push_back(std::move(m));
    loaded_[raw->key] = raw;
    visit(*raw);
    return std::move(set_);
  }

 private:
  static std::string key_of(const std::string& path) {
    std::error_code ec;
    auto p = fs::weakly_canonical(fs::path(path), ec);
    return ec ? path : p.string();
  }

  // Where an import points: "x.pipe" relative to the importing file; a bare name
  // `a.b` as a/b.pipe on the module path.
  std::optional<std::string> locate(const Module& from, const ast::ImportStmt& imp, std::vector<std::string>& tried) {
    if (imp.is_path) {
      fs::path target(imp.target);
      if (target.is_relative()) target = fs::path(sm_.file(from.file).path()).parent_path() / target;
      std::string p = target.lexically_normal().string();
      tried.push_back(p);
      if (fs::is_regular_file(p)) return p;
      return std::nullopt;
    }
    std::string rel = imp.target;
    for (auto& c : rel)
      if (c == '.') c = '/';
    rel += ".pipe";
    for (auto& dir : module_path_) {
      std::string p = (fs::path(dir) / rel).lexically_normal().string();
      tried.push_back(p);
      if (fs::is_regular_file(p)) return p;
    }
    return std::nullopt;
  }

  void visit(Module& m) {
    stack_.push_back(&m);
    for (auto& stmt : m.program.stmts) {
      auto* imp = std::get_if<ast::ImportStmt>(&stmt.v);
      if (!imp) continue;
      Span at{m.file, imp->target_begin, imp->target_end};
      std::vector<std::string> tried;
      auto path = locate(m, *imp, tried);
      if (!path) {
        auto& d = diags_.error(at, "cannot find module '" + imp->target + "'");
        for (auto& t : tried) d.notes.push_back({std::nullopt, "looked for " + t});
        if (!imp->is_path && module_path_.empty()) d.hints.push_back("no module path is set (--module-path DIR)");
        continue;
      }
      std::string key = key_of(*path);
      if (auto on_stack = std::find_if(stack_.begin(), stack_.end(), [&](Module* s) { return s->key == key; });
          on_stack != stack_.end()) {
        std::string chain;
        for (auto it = on_stack; it != stack_.end(); ++it) chain += sm_.file((*it)->file).path() + " -> ";
        chain += sm_.file((*on_stack)->file).path();
        auto& d = diags_.error(at, "import cycle: " + chain);
        d.hints.push_back("move the shared pipelines into a module that neither file imports");
        continue;
      }
      if (loaded_.count(key)) continue;  // each file is loaded once
      if (stack_.size() >= kMaxImportDepth) {
        diags_.error(at, "imports nested more than " + std::to_string(kMaxImportDepth) + " deep");
        continue;
      }
      std::string err;
      auto file = sm_.load(*path, &err);
      if (!file) {
        diags_.error(at, err);
        continue;
      }
      auto mod = std::make_unique<Module>();
      mod->file = *file;
      mod->key = key;
      mod->program = parse_program(sm_, *file, diags_);
      Module* raw = mod.get();
      set_.modules.push_back(std::move(mod));
      loaded_[key] = raw;
      visit(*raw);
    }
    stack_.pop_back();
  }

  SourceManager& sm_;
  Diagnostics& diags_;
  const std::vector<std::string>& module_path_;
  ModuleSet set_;
  std::map<std::string, Module*> loaded_;
  std::vector<Module*> stack_;
};

}  // namespace

ModuleSet load_modules(SourceManager& sm, Diagnostics& diags, FileId main, const std::vector<std::string>& module_path) {
  return Loader(sm, diags, module_path).run(main);
}

}  // namespace pipette::lang
