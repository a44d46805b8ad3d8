#include "lang/lexer.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "lang/syntax.hpp"

namespace pipette::lang {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

bool in(const std::vector<std::string>& words, std::string_view w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// grammar.cpp's number rule: sign, digits, optional fraction, optional exponent.
size_t number_length(std::string_view s, size_t i) {
  size_t j = i;
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
  if (j >= s.size() || !digit(s[j])) return 0;
  while (j < s.size() && digit(s[j])) ++j;
  if (j + 1 < s.size() && s[j] == '.' && digit(s[j + 1])) {
    ++j;
    while (j < s.size() && digit(s[j])) ++j;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '-' || s[k] == '+')) ++k;
    if (k < s.size() && digit(s[k])) {
      while (k < s.size() && digit(s[k])) ++k;
      j = k;
    }
  }
  return j - i;
}

// To the closing quote on the same line; 0 when the line ends first.
size_t string_length(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && s[j] != '\n') {
    if (s[j] == '\\' && j + 1 < s.size() && s[j + 1] != '\n') {
      j += 2;
      continue;
    }
    if (s[j] == '"') return j + 1 - i;
    ++j;
  }
  return 0;
}

}  // namespace

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> out;
  auto push = [&](TokenKind k, size_t b, size_t e) {
    out.push_back(Token{k, static_cast<uint32_t>(b), static_cast<uint32_t>(e), s.substr(b, e - b)});
  };
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      push(TokenKind::Newline, i, i + 1);
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (c == syntax::kCommentChar) {
      size_t e = s.find('\n', i);
      if (e == std::string_view::npos) e = s.size();
      while (e > i && (s[e - 1] == '\r' || s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
      push(TokenKind::Comment, i, e);
      i = e;
    } else if (c == '"') {
      size_t n = string_length(s, i);
      if (n == 0) {
        size_t e = s.find('\n', i);
        if (e == std::string_view::npos) e = s.size();
        push(TokenKind::Error, i, e);
        i = e;
      } else {
        push(TokenKind::String, i, i + n);
        i += n;
      }
    } else if (size_t n = number_length(s, i)) {
      push(TokenKind::Number, i, i + n);
      i += n;
    } else if (ident_start(c)) {
      size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) ++j;
      auto w = s.substr(i, j - i);
      push(in(syntax::keywords(), w) ? TokenKind::Keyword
           : in(syntax::constants(), w) ? TokenKind::Constant
                                       : TokenKind::Identifier,
           i, j);
      i = j;
    } else if (c == '|' && i + 1 < s.size() && s[i + 1] == '>') {
      push(TokenKind::Punct, i, i + 2);
      i += 2;
    } else if (std::string_view("()[]{},:=.<>|;").find(c) != std::string_view::npos) {
      push(TokenKind::Punct, i, i + 1);
      ++i;
    } else {
      // One whole UTF-8 sequence, so that an error token never splits a character.
      size_t j = i + 1;
      while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
      push(TokenKind::Error, i, j);
      i = j;
    }
  }
  return out;
}

}  // namespace pipette::lang
