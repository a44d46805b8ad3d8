// The lexical syntax of .pipe in one place. The lexer (lexer.cpp), the
// formatter and every editor file `pipette editors generate` writes read it from
// here, so editors cannot drift from the language: grammar.cpp's reserved words
// are split into statement keywords and literal constants; type names come from
// engine/types.cpp; the regular expressions mirror the X3 rules in grammar.cpp
// (lexer_test checks that the lexer and the parser agree on every example).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pipette::lang::syntax {

const std::vector<std::string>& keywords();    // let param pipeline for in import plugin report return
const std::vector<std::string>& constants();   // true false none
const std::vector<std::string>& type_names();  // int float ... any none

inline constexpr const char* kFileExtension = "pipe";
inline constexpr const char* kLanguageId = "pipe";
inline constexpr const char* kLanguageName = "Pipette";
inline constexpr char kCommentChar = '#';
inline constexpr const char* kPipeOperator = "|>";
inline constexpr int kIndentWidth = 2;

// Regular expressions in the subset shared by Oniguruma (TextMate), ECMAScript,
// Emacs (after translation) and Qt (Kate). Vim gets its own spelling in vim.cpp.
inline constexpr const char* kIdentifierRegex = "[A-Za-z_][A-Za-z0-9_]*";
// Numbers may carry a sign: the language has no arithmetic, so '-' only ever
// starts a number.
inline constexpr const char* kNumberRegex = "[-+]?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?";
// Backslash escapes inside strings (grammar.cpp's escape_char): \n \t \r \" \\ \{ \}.
inline constexpr const char* kEscapeChars = "ntr\"\\{}";

// Bracket pairs, for auto-closing and indentation.
const std::vector<std::pair<char, char>>& brackets();

}  // namespace pipette::lang::syntax
