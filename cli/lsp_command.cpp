// `pipette lsp`: the language server on standard input and output.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/compile_setup.hpp"
#include "editors/lsp/server.hpp"

namespace pipette::cli {

int lsp_command(const GlobalOptions& g) {
  // stdout carries the protocol: nothing else may be printed there.
  spdlog::set_level(spdlog::level::err);
  std::ios::sync_with_stdio(false);
  lsp::ServerConfig config;
  config.ops = &builtin_registry();
  config.compile_options = [g] { return compile_options(g); };
  lsp::Server server(std::move(config));
  return server.serve(std::cin, std::cout);
}

}  // namespace pipette::cli
