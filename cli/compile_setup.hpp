// What every compiling subcommand shares: the registry, module path, --set values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "engine/op_registry.hpp"
#include "lang/compiler.hpp"

namespace pipette::cli {

const OpRegistry& builtin_registry();

// The compiler's warnings as (file:line:col, message), for report.json.
std::vector<std::pair<std::string, std::string>> compile_warnings(const lang::Compiler& compiler);

// Splits NAME=VALUE pairs; returns an error message for a malformed one.
std::optional<std::string> parse_sets(const std::vector<std::string>& raw,
                                      std::vector<std::pair<std::string, std::string>>& out);

lang::CompileOptions compile_options(const GlobalOptions& g);

bool use_color(const GlobalOptions& g, int fd);

}  // namespace pipette::cli
