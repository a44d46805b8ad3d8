// Loads the main file and, transitively, every file it imports. Each file is
// parsed once however often it is imported; import cycles are diagnosed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"

namespace pipette::lang {

struct Module {
  FileId file = 0;
  std::string key;  // canonical path, for "load once"
  ast::Program program;
};

struct ModuleSet {
  std::vector<std::unique_ptr<Module>> modules;  // [0] is the main file; then in load order
  const Module& main() const { return *modules.front(); }
};

ModuleSet load_modules(SourceManager& sm, Diagnostics& diags, FileId main,
                       const std::vector<std::string>& module_path);

}  // namespace pipette::lang
