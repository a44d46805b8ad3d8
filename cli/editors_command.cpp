// `pipette editors generate`: writes every editor's files (editors/gen/) from
// the language's syntax and the ops of the standard library and of the plugins
// installed with pipette; `--check` only compares (the drift test, CI).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/compile_setup.hpp"
#include "cli/plugin_setup.hpp"
#include "editors/gen/generators.hpp"

namespace pipette::cli {

namespace fs = std::filesystem;

namespace {

editors::Vocabulary vocabulary(const GlobalOptions& g) {
  editors::Vocabulary v;
  for (auto* sig : builtin_registry().ops()) v.ops.push_back(sig->name());
  // Only first-party plugins (installed beside pipette): the generated files must
  // not depend on what else a user has on PIPETTE_PLUGIN_PATH.
  std::error_code ec;
  auto installed = fs::weakly_canonical(installed_plugin_dir(), ec);
  for (auto& rec : plugin_registry(g).plugins()) {
    if (rec.status != PluginRecord::Status::Ok) continue;
    if (fs::weakly_canonical(rec.file.parent_path(), ec) != installed) continue;
    for (auto& op : rec.ops) v.ops.push_back(op.name());
  }
  std::sort(v.ops.begin(), v.ops.end());
  v.ops.erase(std::unique(v.ops.begin(), v.ops.end()), v.ops.end());
  return v;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int editors_command(const GlobalOptions& g, const std::string& out_dir, bool check) {
  auto files = editors::all_editor_files(vocabulary(g));
  int drift = 0;
  for (auto& f : files) {
    fs::path p = fs::path(out_dir) / f.path;
    if (check) {
      if (!fs::exists(p)) {
        std::printf("%s: missing\n", p.c_str());
        drift = 1;
      } else if (read(p) != f.content) {
        std::printf("%s: differs from what `pipette editors generate` writes\n", p.c_str());
        drift = 1;
      }
      continue;
    }
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (fs::exists(p) && read(p) == f.content) continue;
    std::ofstream out(p, std::ios::binary);
    out << f.content;
    if (!out) {
      std::fprintf(stderr, "pipette: error: cannot write '%s'\n", p.c_str());
      return 2;
    }
    std::printf("wrote %s\n", p.c_str());
  }
  if (check && drift) std::printf("run `pipette editors generate --out %s` and commit the result\n", out_dir.c_str());
  if (check && !drift) std::printf("%zu editor files up to date\n", files.size());
  return drift;
}

}  // namespace pipette::cli
