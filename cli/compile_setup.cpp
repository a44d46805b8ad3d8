#include "cli/compile_setup.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "cli/plugin_setup.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

#ifndef PIPETTE_STDLIB_MODULE_DIR
#define PIPETTE_STDLIB_MODULE_DIR ""
#endif

namespace pipette::cli {

// The stdlib's signatures as the build wrote them out: the same in every
// process, and no LibTorch needed to have them.
const OpRegistry& builtin_registry() { return stdlib::builtin_signatures(); }

std::vector<std::pair<std::string, std::string>> compile_warnings(const lang::Compiler& compiler) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& d : compiler.diagnostics().all())
    if (d.severity == lang::Severity::Warning)
      out.emplace_back(d.span ? compiler.sources().resolve(*d.span).to_string() : std::string(), d.message);
  return out;
}

std::optional<std::string> parse_sets(const std::vector<std::string>& raw,
                                      std::vector<std::pair<std::string, std::string>>& out) {
  for (auto& s : raw) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return "--set expects NAME=VALUE, got '" + s + "'";
    out.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  return std::nullopt;
}

lang::CompileOptions compile_options(const GlobalOptions& g) {
  lang::CompileOptions o;
  o.module_path = g.module_path;
  // PIPETTE_PATH works like PATH: colon-separated module directories.
  if (const char* env = std::getenv("PIPETTE_PATH")) {
    std::stringstream ss(env);
    std::string dir;
    while (std::getline(ss, dir, ':'))
      if (!dir.empty()) o.module_path.push_back(dir);
  }
  // A char array, not a std::string temporary: g++ 12 inlines the string's
  // copy and warns (-Wstringop-overflow, -Warray-bounds) about bounds it
  // cannot see through.
  static constexpr char kStdlibModules[] = PIPETTE_STDLIB_MODULE_DIR;
  if (sizeof kStdlibModules > 1) o.module_path.emplace_back(kStdlibModules);
  o.resolve_plugin = plugin_resolver(g);
  return o;
}

bool use_color(const GlobalOptions& g, int fd) {
  if (g.color == "always") return true;
  if (g.color == "never") return false;
  const char* term = std::getenv("TERM");
  return isatty(fd) && !std::getenv("NO_COLOR") && term && std::string(term) != "dumb";
}

}  // namespace pipette::cli
