// The Boost.Spirit X3 grammar, behind a small interface so that only
// grammar.cpp instantiates X3 (editing anything else never recompiles it).
#pragma once

#include <string>

#include "lang/ast.hpp"

namespace pipette::lang::grammar {

struct Failure {
  const char* where = nullptr;  // where the parser stopped
  std::string expected;         // what it wanted there ("expression", "')'")
};

// Parses one statement (or block header) starting at `first` (after trivia).
// On success `first` points just past it. On failure returns false with `fail`.
bool parse_statement(const char*& first, const char* last, const char* file_begin, ast::SimpleStmt& out,
                     Failure& fail);

// Parses one whole expression (used for `--set name=value`); must consume all input.
bool parse_expression(const char*& first, const char* last, const char* file_begin, ast::Expr& out, Failure& fail);

// Skips white space and comments.
void skip_trivia(const char*& first, const char* last);

// The reserved words, for the checker's messages and the editor generators.
const std::vector<std::string>& keywords();

}  // namespace pipette::lang::grammar
