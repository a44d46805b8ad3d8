// A token stream over .pipe source, for tools that must see every byte the
// parser skips: the formatter keeps comments and line breaks, the language
// server finds the word under the cursor. The parser itself (grammar.cpp) does
// not use it; lexer_test checks that the two agree.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace pipette::lang {

enum class TokenKind {
  Identifier,
  Keyword,   // syntax::keywords()
  Constant,  // true false none
  Number,
  String,    // the whole literal, quotes and {interpolations} included
  Comment,   // '#' to the end of the line
  Punct,     // ( ) [ ] { } , : = . < > | and the two-character |>
  Newline,
  Error,     // an unterminated string or a character the language has no use for
};

struct Token {
  TokenKind kind;
  uint32_t begin = 0, end = 0;  // byte offsets
  std::string_view text;
  bool is(std::string_view punct) const { return kind == TokenKind::Punct && text == punct; }
};

// Never fails: what cannot be a token becomes an Error token.
std::vector<Token> lex(std::string_view source);

}  // namespace pipette::lang
