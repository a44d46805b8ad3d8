#include "lang/format.hpp"

#include <algorithm>
#include <vector>

#include "lang/lexer.hpp"
#include "lang/syntax.hpp"

namespace pipette::lang {

namespace {

bool is_open(const Token& t) { return t.is("(") || t.is("[") || t.is("{"); }
bool is_close(const Token& t) { return t.is(")") || t.is("]") || t.is("}"); }
bool is_type_name(const Token& t) {
  auto& n = syntax::type_names();
  return t.kind == TokenKind::Identifier && std::find(n.begin(), n.end(), t.text) != n.end();
}

struct OpenBracket {
  char ch;
  size_t line_indent;    // indentation of the line that opened it
  size_t align_column;   // where continuation lines start
  bool annotated = false;  // '(' only: a ':' since the last ',' (an annotated pipeline parameter)
  bool type_braces = false;  // '{' of a record/dataset type: no spaces inside
  bool block = false;  // '{' of a `pipeline`/`for` body: spaced inside when it goes on on its line
};

struct Line {
  size_t indent = 0;
  std::string code;     // without indentation
  std::string comment;  // trailing or whole-line comment
  bool blank = false;
};

// Whether a single space separates two tokens on one line.
bool space_between(const Token& prev, const Token& cur, const std::vector<OpenBracket>& stack) {
  // A body written on one line with `;` (`pipeline f(x) { let y = x; return y }`)
  // reads as statements, not as a record: a space inside each brace.
  if (prev.is("{") && !stack.empty() && stack.back().block) return true;
  if (cur.is("}") && !stack.empty() && stack.back().block) return true;
  if (cur.is(",") || cur.is(":") || cur.is(".") || cur.is(";") || is_close(cur)) return false;
  if (prev.is(".") || prev.is("(") || prev.is("[")) return false;
  if (prev.is("{")) return false;  // a record's '{' has no inner space
  if (cur.is("<") || cur.is(">") || prev.is("<") || cur.is("|") || prev.is("|")) return false;
  if (prev.is(">")) return !(cur.is("{") || cur.is(",") || cur.is(">"));
  if (cur.is("(")) return !(prev.kind == TokenKind::Identifier || is_close(prev) || prev.is(">"));
  if (cur.is("{") && is_type_name(prev)) return false;
  if (cur.is("=") || prev.is("=")) {
    bool in_call = !stack.empty() && stack.back().ch == '(' && !stack.back().annotated;
    return !in_call;
  }
  return true;
}

}  // namespace

FormatResult format_source(const std::string& source) {
  FormatResult result;
  auto tokens = lex(source);
  for (auto& t : tokens) {
    if (t.kind == TokenKind::Error) {
      result.error = "cannot format: unexpected '" + std::string(t.text) + "'";
      return result;
    }
  }

  std::vector<Line> lines;
  std::vector<OpenBracket> stack;
  // A statement that goes on after `=`, `|>`, ',' or ':' at the end of a line
  // continues on the next, indented by two.
  bool continues = false;
  // A `pipeline` or `for` seen at statement level: its next '{' opens a body.
  bool body_pending = false;
  size_t i = 0;
  while (i <= tokens.size()) {
    // One physical line: tokens up to the next newline.
    size_t j = i;
    while (j < tokens.size() && tokens[j].kind != TokenKind::Newline) ++j;
    Line line;
    if (i == j) {
      line.blank = true;
    } else {
      const Token& first = tokens[i];
      size_t base = stack.empty() ? 0 : stack.back().align_column;
      if (is_close(first) && !stack.empty()) line.indent = stack.back().line_indent;
      else if (first.is(syntax::kPipeOperator) || (continues && stack.empty())) line.indent = base + syntax::kIndentWidth;
      else line.indent = base;
      const Token* prev = nullptr;
      for (size_t k = i; k < j; ++k) {
        const Token& t = tokens[k];
        if (t.kind == TokenKind::Comment) {
          line.comment = std::string(t.text);
          break;
        }
        if (prev && space_between(*prev, t, stack)) line.code += ' ';
        if (is_close(t) && !stack.empty()) stack.pop_back();
        line.code += t.text;
        bool statement_level = stack.empty() || stack.back().block;
        if (statement_level && t.kind == TokenKind::Keyword && (t.text == "pipeline" || t.text == "for"))
          body_pending = true;
        if (statement_level && t.is(";")) body_pending = false;
        if (is_open(t)) {
          OpenBracket b{t.text[0], line.indent, 0};
          b.type_braces = t.is("{") && prev && is_type_name(*prev);
          b.block = t.is("{") && statement_level && body_pending;
          if (b.block) body_pending = false;
          bool more = k + 1 < j && tokens[k + 1].kind != TokenKind::Comment;
          b.align_column = more ? line.indent + line.code.size() : line.indent + syntax::kIndentWidth;
          stack.push_back(b);
        } else if (!stack.empty() && stack.back().ch == '(') {
          if (t.is(":")) stack.back().annotated = true;
          if (t.is(",")) stack.back().annotated = false;
        }
        prev = &t;
      }
      continues = prev && (prev->is("=") || prev->is(syntax::kPipeOperator) || prev->is(",") || prev->is(":"));
    }
    lines.push_back(std::move(line));
    if (j >= tokens.size()) break;
    i = j + 1;
  }

  // Trailing comments of consecutive code lines share a column.
  std::vector<size_t> comment_column(lines.size(), 0);
  for (size_t a = 0; a < lines.size();) {
    auto trailing = [&](size_t k) { return !lines[k].blank && !lines[k].code.empty() && !lines[k].comment.empty(); };
    if (!trailing(a)) {
      ++a;
      continue;
    }
    size_t b = a;
    size_t width = 0;
    while (b < lines.size() && trailing(b)) {
      width = std::max(width, lines[b].indent + lines[b].code.size());
      ++b;
    }
    for (size_t k = a; k < b; ++k) comment_column[k] = width + 2;
    a = b;
  }

  std::string& out = result.text;
  bool pending_blank = false;
  for (size_t k = 0; k < lines.size(); ++k) {
    auto& l = lines[k];
    if (l.blank) {
      pending_blank = !out.empty();
      continue;
    }
    if (pending_blank) out += '\n';
    pending_blank = false;
    std::string text(l.indent, ' ');
    text += l.code;
    if (!l.comment.empty()) {
      if (!l.code.empty()) text.append(comment_column[k] - text.size(), ' ');
      text += l.comment;
    }
    out += text;
    out += '\n';
  }

  // The safety net: the same tokens, in the same order.
  auto again = lex(out);
  std::vector<std::string_view> before, after;
  for (auto& t : tokens)
    if (t.kind != TokenKind::Newline) before.push_back(t.text);
  for (auto& t : again)
    if (t.kind != TokenKind::Newline) after.push_back(t.text);
  if (before != after) {
    result.error = "internal error: formatting would change the tokens of the file (please report this)";
    result.text.clear();
  }
  return result;
}

}  // namespace pipette::lang
