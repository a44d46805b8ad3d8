// The syntax tree of a .pipe file. Every node carries the byte range it was
// parsed from (begin/end offsets into its file), set by the parser. The types
// double as Boost.Spirit X3 attributes, hence x3::variant and forward_ast.
#pragma once

#include <boost/spirit/home/x3/support/ast/variant.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lang/source.hpp"

namespace pipette::lang::ast {

namespace x3 = boost::spirit::x3;

struct Node {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct Identifier : Node {
  std::string name;
};

struct QualName : Node {
  std::vector<Identifier> parts;
  std::string joined() const;
};

struct NoneLit : Node {};
struct BoolLit : Node {
  bool value = false;
};
struct NumberLit : Node {
  bool is_float = false;
  bool overflow = false;  // an integer that does not fit in 64 bits: diagnosed later
  int64_t i = 0;
  double f = 0;
};

// A string is text with `{name}` interpolations.
struct StringPart {
  bool is_var = false;
  std::string text;  // literal text, or the interpolated name
  uint32_t begin = 0, end = 0;
};
struct StringLit : Node {
  std::vector<StringPart> parts;
  bool is_plain() const { return parts.empty() || (parts.size() == 1 && !parts[0].is_var); }
  std::string plain() const { return parts.empty() ? std::string() : parts[0].text; }
};

struct ListLit;
struct RecordLit;
struct NameOrCall;
struct Expr;

struct Primary : x3::variant<NoneLit, BoolLit, NumberLit, StringLit, x3::forward_ast<ListLit>,
                             x3::forward_ast<RecordLit>, x3::forward_ast<NameOrCall>, x3::forward_ast<Expr>> {
  using base_type::base_type;
  using base_type::operator=;
};

// `base.a.b`: member access after a call or literal. (`x.a.b` without a call is a
// QualName; the checker decides whether its head is a variable or a namespace.)
struct Postfix : Node {
  Primary base;
  std::vector<Identifier> members;
};

struct Argument;

// `a.b.c` or `a.b.c(args)`. `has_call` distinguishes `f` from `f()`.
struct NameOrCall : Node {
  QualName name;
  std::optional<std::vector<Argument>> args;
  bool is_call() const { return args.has_value(); }
};

// `head |> f(a) |> g` : each stage receives the previous value as first argument.
struct Expr : Node {
  Postfix head;
  std::vector<NameOrCall> pipes;
};

struct Argument : Node {
  std::optional<Identifier> name;
  Expr value;
};

struct ListLit : Node {
  std::vector<Expr> items;
};

struct RecordField : Node {
  Identifier name;
  Expr value;
};

struct RecordLit : Node {
  std::vector<RecordField> fields;
};

// Types are kept as written and parsed with pipette::Type::parse by the checker.
struct TypeExpr : Node {
  std::string text;
};

// ---- statements -------------------------------------------------------------

struct LetStmt : Node {
  Identifier name;
  Expr value;
};

struct ParamStmt : Node {
  Identifier name;
  TypeExpr type;
  std::optional<Expr> default_value;
};

struct ImportStmt : Node {
  bool is_path = false;  // import "x.pipe" vs import name
  std::string target;
  uint32_t target_begin = 0, target_end = 0;
};

struct PluginStmt : Node {
  StringLit name;
};

struct ReportStmt : Node {
  StringLit name;
  Expr value;
};

struct ReturnStmt : Node {
  Expr value;
};

struct ExprStmt : Node {
  Expr value;
};

struct PipelineParam : Node {
  Identifier name;
  std::optional<TypeExpr> type;
  std::optional<Expr> default_value;
};

// Block headers: the statement parser reads `pipeline f(a, b) {` and `for x in e {`;
// the block driver then reads the body statement by statement, for error recovery.
struct PipelineHeader : Node {
  Identifier name;
  std::vector<PipelineParam> params;
};

struct ForHeader : Node {
  Identifier var;
  Expr list;
};

struct SimpleStmt : x3::variant<LetStmt, ParamStmt, ImportStmt, PluginStmt, ReportStmt, ReturnStmt, PipelineHeader,
                                ForHeader, ExprStmt> {
  using base_type::base_type;
  using base_type::operator=;
};

struct Stmt;

struct PipelineDef : Node {
  PipelineHeader header;
  std::vector<Stmt> body;
};

struct ForStmt : Node {
  ForHeader header;
  std::vector<Stmt> body;
};

// A statement that did not parse. It keeps the name a `let`/`param` tried to
// define so that later uses of it are not reported as unknown a second time.
struct BrokenStmt : Node {
  std::optional<std::string> defines;
};

struct Stmt {
  std::variant<LetStmt, ParamStmt, ImportStmt, PluginStmt, ReportStmt, ReturnStmt, ExprStmt, PipelineDef, ForStmt,
               BrokenStmt>
      v;
};

struct Program {
  FileId file = 0;
  std::vector<Stmt> stmts;
};

}  // namespace pipette::lang::ast
