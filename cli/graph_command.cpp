#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cli/compile_setup.hpp"

namespace pipette::cli {

int graph_command(const GlobalOptions& g, const std::string& file, const std::string& format,
                  const std::vector<std::string>& sets, const std::string& output) {
  auto options = compile_options(g);
  if (auto err = parse_sets(sets, options.sets)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  lang::Compiler compiler(builtin_registry(), options);
  auto graph = compiler.compile_file(file);
  std::fputs(compiler.render_diagnostics(use_color(g, STDERR_FILENO)).c_str(), stderr);
  if (compiler.io_error()) return 2;
  if (!graph) return 1;
  std::string text = format == "json" ? graph_to_json(*graph) : graph_to_dot(*graph);
  if (output.empty() || output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::ofstream out(output, std::ios::binary);
  out << text;
  if (!out) {
    std::fprintf(stderr, "pipette: error: cannot write '%s'\n", output.c_str());
    return 2;
  }
  return 0;
}

}  // namespace pipette::cli
