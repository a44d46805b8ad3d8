// Turns a source file into an AST, reporting every syntax error in one pass:
// statements are parsed one at a time and, after an error, parsing resumes at
// the next statement boundary.
#pragma once

#include <optional>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"

namespace pipette::lang {

// Brackets nested deeper than this are refused before parsing, so that no input
// can exhaust the stack of the recursive-descent parser.
inline constexpr int kMaxNesting = 100;

ast::Program parse_program(const SourceManager& sm, FileId file, Diagnostics& diags);

// Parses a whole file as one expression (a `--set` value). Reports errors.
std::optional<ast::Expr> parse_value(const SourceManager& sm, FileId file, Diagnostics& diags);

}  // namespace pipette::lang
