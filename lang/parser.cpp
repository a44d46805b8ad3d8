#include "lang/parser.hpp"

#include <cctype>
#include <cstring>

#include "lang/grammar.hpp"

namespace pipette::lang {

namespace {

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Steps over a string literal starting at `p` (on the opening quote). Strings end
// at the closing quote, or unterminated at the end of the line.
const char* skip_string(const char* p, const char* end) {
  ++p;
  while (p < end && *p != '"' && *p != '\n') {
    if (*p == '\\' && p + 1 < end && p[1] != '\n') ++p;
    ++p;
  }
  return p < end && *p == '"' ? p + 1 : p;
}

const char* skip_comment(const char* p, const char* end) {
  while (p < end && *p != '\n') ++p;
  return p;
}

class Parser {
 public:
  Parser(const SourceManager& sm, FileId file, Diagnostics& diags)
      : file_(file), text_(sm.file(file).text()), diags_(diags) {
    begin_ = text_.data();
    end_ = begin_ + text_.size();
    p_ = begin_;
    // Editors on some systems write a UTF-8 byte-order mark; it is not code.
    if (text_.size() >= 3 && text_.compare(0, 3, "\xEF\xBB\xBF") == 0) p_ += 3;
  }

  ast::Program run() {
    ast::Program prog;
    prog.file = file_;
    if (!nesting_ok()) return prog;
    prog.stmts = block(nullptr);
    return prog;
  }

  std::optional<ast::Expr> value() {
    if (!nesting_ok()) return std::nullopt;
    grammar::skip_trivia(p_, end_);
    ast::Expr e;
    grammar::Failure f;
    if (!grammar::parse_expression(p_, end_, begin_, e, f)) {
      report_failure(f, p_);
      return std::nullopt;
    }
    return e;
  }

 private:
  Span span(const char* b, const char* e) const {
    return Span{file_, static_cast<uint32_t>(b - begin_), static_cast<uint32_t>(e - begin_)};
  }

  // Rejects input nested deeper than kMaxNesting before X3 recurses into it.
  bool nesting_ok() {
    int depth = 0;
    for (const char* p = begin_; p < end_;) {
      char c = *p;
      if (c == '"') { p = skip_string(p, end_); continue; }
      if (c == '#') { p = skip_comment(p, end_); continue; }
      if (c == '(' || c == '[' || c == '{') {
        if (++depth > kMaxNesting) {
          diags_.error(span(p, p + 1), "brackets nested too deeply (more than " + std::to_string(kMaxNesting) +
                                           " levels); the file was not parsed");
          return false;
        }
      } else if (c == ')' || c == ']' || c == '}') {
        depth = depth > 0 ? depth - 1 : 0;
      }
      ++p;
    }
    return true;
  }

  // Reads statements until the end of the file (top level) or the '}' closing
  // the block opened at `open`.
  std::vector<ast::Stmt> block(const char* open) {
    std::vector<ast::Stmt> out;
    for (;;) {
      skip_separators();
      if (p_ >= end_) {
        if (open) {
          auto& d = diags_.error(span(end_, end_), "expected '}' before the end of the file");
          d.notes.push_back({span(open, open + 1), "to match this '{'"});
        }
        return out;
      }
      if (*p_ == '}') {
        if (open) { ++p_; return out; }
        diags_.error(span(p_, p_ + 1), "unexpected '}' with no block open");
        ++p_;
        continue;
      }
      statement(out);
    }
  }

  void statement(std::vector<ast::Stmt>& out) {
    const char* start = p_;
    ast::SimpleStmt s;
    grammar::Failure f;
    if (!grammar::parse_statement(p_, end_, begin_, s, f)) {
      report_failure(f, start);
      out.push_back(ast::Stmt{broken(start)});
      recover(start, f.where ? f.where : start);
      return;
    }
    if (auto* h = boost::get<ast::PipelineHeader>(&s)) return open_block<ast::PipelineDef>(std::move(*h), out);
    if (auto* h = boost::get<ast::ForHeader>(&s)) return open_block<ast::ForStmt>(std::move(*h), out);
    if (!at_statement_end()) {
      const char* bad = p_;
      while (bad < end_ && (*bad == ' ' || *bad == '\t')) ++bad;
      diags_.error(span(bad, token_end(bad)),
                   "expected the end of the statement (a new line or ';'), found " + describe(bad));
      out.push_back(ast::Stmt{broken(start)});
      recover(start, bad);
      return;
    }
    out.push_back(boost::apply_visitor([](auto& st) { return to_stmt(std::move(st)); }, s));
  }

  // A block header was just read (its '{' is at p_ - 1): read the body too.
  template <typename BlockStmt, typename Header>
  void open_block(Header&& header, std::vector<ast::Stmt>& out) {
    BlockStmt b;
    b.header = std::move(header);
    b.begin = b.header.begin;
    b.body = block(p_ - 1);
    b.end = static_cast<uint32_t>(p_ - begin_);
    out.push_back(ast::Stmt{std::move(b)});
  }

  static ast::Stmt to_stmt(ast::PipelineHeader&&) { return {}; }  // handled above
  static ast::Stmt to_stmt(ast::ForHeader&&) { return {}; }       // handled above
  template <typename T> static ast::Stmt to_stmt(T&& st) { return ast::Stmt{std::forward<T>(st)}; }

  // What a statement that failed to parse tried to define, so its uses are not
  // reported again as unknown names.
  ast::BrokenStmt broken(const char* start) {
    ast::BrokenStmt b;
    b.begin = static_cast<uint32_t>(start - begin_);
    b.end = static_cast<uint32_t>(p_ - begin_);
    for (const char* kw : {"let", "param"}) {
      size_t n = std::strlen(kw);
      const char* q = start;
      if (static_cast<size_t>(end_ - q) > n && std::memcmp(q, kw, n) == 0 && !is_ident_char(q[n])) {
        q += n;
        while (q < end_ && (*q == ' ' || *q == '\t')) ++q;
        const char* name = q;
        while (q < end_ && is_ident_char(*q)) ++q;
        if (q > name) b.defines = std::string(name, q);
      }
    }
    return b;
  }

  void skip_separators() {
    for (;;) {
      grammar::skip_trivia(p_, end_);
      if (p_ < end_ && *p_ == ';') { ++p_; continue; }
      return;
    }
  }

  // After a statement only blanks, a comment, ';', '}' or a new line may follow.
  bool at_statement_end() const {
    const char* q = p_;
    while (q < end_ && (*q == ' ' || *q == '\t' || *q == '\r')) ++q;
    return q >= end_ || *q == '\n' || *q == ';' || *q == '}' || *q == '#';
  }

  // Skips what remains of a broken statement. A broken `pipeline`/`for` header
  // skips its whole block; anything else stops at the first line break outside
  // brackets, or at a line that starts with a statement keyword.
  void recover(const char* start, const char* where) {
    bool is_block = starts_with_word(start, "pipeline") || starts_with_word(start, "for");
    int depth = 0;
    const char* q = start;
    bool seen_brace = false;
    while (q < end_) {
      char c = *q;
      if (c == '"') { q = skip_string(q, end_); continue; }
      if (c == '#') { q = skip_comment(q, end_); continue; }
      if (c == '(' || c == '[' || c == '{') {
        ++depth;
        if (c == '{') seen_brace = true;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0 && c == '}') break;  // the enclosing block's end: leave it to block()
        --depth;
        if (is_block && seen_brace && depth == 0 && c == '}') { ++q; break; }
      } else if (c == '\n' && q + 1 >= where) {
        // From the line where the error was found on (or the line break just
        // before it: an error at a statement keyword resumes right there).
        const char* next = q + 1;
        while (next < end_ && (*next == ' ' || *next == '\t')) ++next;
        bool continues = next + 1 < end_ && next[0] == '|' && next[1] == '>';
        if (!is_block && !continues && (depth <= 0 || starts_statement(next))) break;
        if (is_block && !seen_brace && starts_statement(next)) break;
      }
      ++q;
    }
    p_ = q > p_ ? q : p_;
    if (p_ == start && p_ < end_) ++p_;  // always make progress
  }

  bool starts_with_word(const char* q, const char* word) const {
    size_t n = std::strlen(word);
    return static_cast<size_t>(end_ - q) >= n && std::memcmp(q, word, n) == 0 &&
           (static_cast<size_t>(end_ - q) == n || !is_ident_char(q[n]));
  }

  bool starts_statement(const char* q) const {
    for (const char* kw : {"let", "param", "pipeline", "for", "import", "plugin", "report", "return"})
      if (starts_with_word(q, kw)) return true;
    return false;
  }

  const char* token_end(const char* q) const {
    if (q >= end_) return q;
    if (is_ident_char(*q)) {
      while (q < end_ && is_ident_char(*q)) ++q;
      return q;
    }
    if (*q == '"') return skip_string(q, end_);
    if (q + 1 < end_ && q[0] == '|' && q[1] == '>') return q + 2;
    return q + 1;
  }

  std::string describe(const char* q) const {
    if (q >= end_) return "the end of the file";
    if (*q == '\n' || *q == '\r') return "the end of the line";
    std::string tok(q, token_end(q));
    if (tok.size() > 40) tok = tok.substr(0, 37) + "...";
    for (auto& c : tok)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return "'" + tok + "'";
  }

  void report_failure(const grammar::Failure& f, const char* start) {
    const char* where = f.where ? f.where : start;
    if (where > end_) where = end_;
    // X3 reports the position before the skipper ran; point at the token instead
    // (but stay on the line: "found the end of the line" is the useful message).
    bool in_string = f.expected.find("'{'") != std::string::npos || f.expected.find("escape") != std::string::npos ||
                     f.expected.find("close the string") != std::string::npos;
    // A record field that does not parse (after a ',') is wrong where it
    // stands, whichever line that is.
    bool at_field = f.expected.rfind("a record field", 0) == 0;
    if (at_field) {
      while (where < end_ && std::isspace(static_cast<unsigned char>(*where))) ++where;
    } else if (!in_string) {
      while (where < end_ && (*where == ' ' || *where == '\t' || *where == '\r')) ++where;
      // When the skipper ran over line breaks, the problem is at the end of the
      // last line with code on it: "expected ')'" belongs there, not at EOF.
      const char* back = where;
      bool crossed_line = false;
      while (back > begin_ && std::isspace(static_cast<unsigned char>(back[-1]))) {
        crossed_line |= back[-1] == '\n';
        --back;
      }
      if (crossed_line && back >= start) where = back;
    }
    std::string msg;
    if (f.expected.empty()) {
      msg = "expected a statement, found " + describe(where);
    } else {
      msg = "expected " + f.expected + ", found " + describe(where);
    }
    auto& d = diags_.error(span(where, std::max(where + 1, token_end(where))), msg);
    if (f.expected == "'\"' to close the string") d.hints.push_back("strings end on the line they start");
  }

  FileId file_;
  const std::string& text_;
  Diagnostics& diags_;
  const char* begin_;
  const char* end_;
  const char* p_;
};

}  // namespace

ast::Program parse_program(const SourceManager& sm, FileId file, Diagnostics& diags) {
  return Parser(sm, file, diags).run();
}

std::optional<ast::Expr> parse_value(const SourceManager& sm, FileId file, Diagnostics& diags) {
  return Parser(sm, file, diags).value();
}

}  // namespace pipette::lang
