#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "cli/compile_setup.hpp"

namespace pipette::cli {

int check_command(const GlobalOptions& g, const std::vector<std::string>& files,
                  const std::vector<std::string>& sets) {
  auto options = compile_options(g);
  if (auto err = parse_sets(sets, options.sets)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  int status = 0;
  for (auto& f : files) {
    lang::Compiler compiler(builtin_registry(), options);
    auto graph = compiler.compile_file(f);
    std::fputs(compiler.render_diagnostics(use_color(g, STDERR_FILENO)).c_str(), stderr);
    if (compiler.io_error()) {
      status = 2;
    } else if (!graph) {
      status = std::max(status, 1);
    } else {
      spdlog::info("{}: ok ({} nodes, {} reports)", f, graph->nodes.size(), graph->reports.size());
    }
  }
  return status;
}

}  // namespace pipette::cli
