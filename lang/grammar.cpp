// The .pipe grammar in Boost.Spirit X3. Rules fill the AST in ast.hpp; an
// on_success handler stamps each node with its byte range. Expectation points
// (`>`) turn "this cannot be a statement" into "expected X here" diagnostics.
#include "lang/grammar.hpp"

#include <boost/fusion/include/adapt_struct.hpp>
#include <boost/spirit/home/x3.hpp>

#include <algorithm>
#include <charconv>
#include <type_traits>

BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::Postfix, base, members)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::NameOrCall, name, args)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::Expr, head, pipes)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::RecordField, name, value)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::LetStmt, name, value)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::ParamStmt, name, type, default_value)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::ReportStmt, name, value)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::PipelineParam, name, type, default_value)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::PipelineHeader, name, params)
BOOST_FUSION_ADAPT_STRUCT(pipette::lang::ast::ForHeader, var, list)

namespace pipette::lang::grammar {

namespace x3 = boost::spirit::x3;

const std::vector<std::string>& keywords() {
  static const std::vector<std::string> words = {"let",    "param",  "pipeline", "for",  "in",    "import",
                                                 "plugin", "report", "return",   "true", "false", "none"};
  return words;
}

namespace {

bool is_keyword(const std::string& s) {
  auto& k = keywords();
  return std::find(k.begin(), k.end(), s) != k.end();
}

struct file_begin_tag;

// Stamps [begin, end) offsets on every AST node a rule produces.
struct annotate {
  template <typename Iterator, typename Attr, typename Context>
  void on_success(Iterator const& first, Iterator const& last, Attr& attr, Context const& ctx) {
    if constexpr (std::is_base_of_v<ast::Node, Attr>) {
      const char* base = x3::get<file_begin_tag>(ctx);
      attr.begin = static_cast<uint32_t>(first - base);
      attr.end = static_cast<uint32_t>(last - base);
    }
  }
};

template <typename Ctx>
uint32_t offset_of(Ctx const& ctx, const char* p) {
  return static_cast<uint32_t>(p - x3::get<file_begin_tag>(ctx));
}

// ---- lexical pieces -----------------------------------------------------------

auto const ident_start = x3::char_("a-zA-Z_");
auto const ident_char = x3::char_("a-zA-Z0-9_");
auto kw(char const* word) { return x3::lexeme[x3::lit(word) >> !ident_char]; }

auto const comment = x3::lexeme['#' >> *(x3::char_ - x3::eol)];
auto const skipper = x3::space | comment;

// ---- rules ----------------------------------------------------------------------

struct identifier_r : annotate {};
struct word_r : annotate {};
struct qualname_r : annotate {};
struct none_r : annotate {};
struct bool_r : annotate {};
struct number_r : annotate {};
struct string_r : annotate {};
struct interp_r : annotate {};
struct list_r : annotate {};
struct record_r : annotate {};
struct field_r : annotate {};
struct paren_r : annotate {};
struct args_r : annotate {};
struct argument_r : annotate {};
struct name_or_call_r : annotate {};
struct primary_r : annotate {};
struct postfix_r : annotate {};
struct expr_r : annotate {};
struct type_r : annotate {};
struct type_atom_r : annotate {};
struct let_r : annotate {};
struct param_r : annotate {};
struct import_r : annotate {};
struct plugin_r : annotate {};
struct report_r : annotate {};
struct return_r : annotate {};
struct expr_stmt_r : annotate {};
struct pipeline_param_r : annotate {};
struct pipeline_params_r : annotate {};
struct pipeline_r : annotate {};
struct for_r : annotate {};
struct statement_r : annotate {};

x3::rule<identifier_r, ast::Identifier> const identifier = "identifier";
x3::rule<word_r, std::string> const word = "name";
x3::rule<qualname_r, ast::QualName> const qualname = "name";
x3::rule<none_r, ast::NoneLit> const none_lit = "none";
x3::rule<bool_r, ast::BoolLit> const bool_lit = "true or false";
x3::rule<number_r, ast::NumberLit> const number_lit = "number";
x3::rule<string_r, ast::StringLit> const string_lit = "string";
x3::rule<interp_r, std::string> const interp_name = "a name after '{' (write '{{' for a literal brace)";
x3::rule<list_r, ast::ListLit> const list_lit = "list";
x3::rule<record_r, ast::RecordLit> const record_lit = "record";
x3::rule<field_r, ast::RecordField> const record_field =
    "a record field 'name: value' (a name, not a reserved word such as none or true)";
x3::rule<paren_r, ast::Expr> const paren_expr = "parenthesized expression";
x3::rule<args_r, std::vector<ast::Argument>> const argument_list = "argument list";
x3::rule<argument_r, ast::Argument> const argument = "argument";
x3::rule<name_or_call_r, ast::NameOrCall> const name_or_call = "name or call";
x3::rule<primary_r, ast::Primary> const primary = "expression";
x3::rule<postfix_r, ast::Postfix> const postfix = "expression";
x3::rule<expr_r, ast::Expr> const expr = "expression";
x3::rule<type_r, ast::TypeExpr> const type_expr = "type";
x3::rule<type_atom_r> const type_atom = "type";
x3::rule<let_r, ast::LetStmt> const let_stmt = "let statement";
x3::rule<param_r, ast::ParamStmt> const param_stmt = "param statement";
x3::rule<import_r, ast::ImportStmt> const import_stmt = "import statement";
x3::rule<plugin_r, ast::PluginStmt> const plugin_stmt = "plugin statement";
x3::rule<report_r, ast::ReportStmt> const report_stmt = "report statement";
x3::rule<return_r, ast::ReturnStmt> const return_stmt = "return statement";
x3::rule<expr_stmt_r, ast::ExprStmt> const expr_stmt = "statement";
x3::rule<pipeline_param_r, ast::PipelineParam> const pipeline_param = "pipeline parameter";
x3::rule<pipeline_params_r, std::vector<ast::PipelineParam>> const pipeline_params = "pipeline parameters";
x3::rule<pipeline_r, ast::PipelineHeader> const pipeline_header = "pipeline definition";
x3::rule<for_r, ast::ForHeader> const for_header = "for loop";
x3::rule<statement_r, ast::SimpleStmt> const statement = "statement";

// Rules with semantic actions get an annotated wrapper rule: X3 hands on_success
// an unused attribute for rules whose own body has actions.
x3::rule<class identifier_raw, ast::Identifier> const identifier_raw = "identifier";
x3::rule<class qualname_raw, ast::QualName> const qualname_raw = "qualname";
x3::rule<class bool_lit_raw, ast::BoolLit> const bool_lit_raw = "bool lit";
x3::rule<class number_lit_raw, ast::NumberLit> const number_lit_raw = "number lit";
x3::rule<class string_lit_raw, ast::StringLit> const string_lit_raw = "string lit";
x3::rule<class list_lit_raw, ast::ListLit> const list_lit_raw = "list lit";
x3::rule<class record_lit_raw, ast::RecordLit> const record_lit_raw = "record lit";
x3::rule<class type_expr_raw, ast::TypeExpr> const type_expr_raw = "type expr";
x3::rule<class import_stmt_raw, ast::ImportStmt> const import_stmt_raw = "import stmt";
x3::rule<class plugin_stmt_raw, ast::PluginStmt> const plugin_stmt_raw = "plugin stmt";
x3::rule<class return_stmt_raw, ast::ReturnStmt> const return_stmt_raw = "return stmt";
x3::rule<class expr_stmt_raw, ast::ExprStmt> const expr_stmt_raw = "expr stmt";
x3::rule<class argument_raw, ast::Argument> const argument_raw = "argument";

// Identifiers exclude the reserved words; `_pass = false` lets alternatives try on.
auto const identifier_raw_def =
    x3::lexeme[x3::raw[ident_start >> *ident_char]][([](auto& ctx) {
      auto r = x3::_attr(ctx);
      std::string s(r.begin(), r.end());
      if (is_keyword(s)) x3::_pass(ctx) = false;
      else x3::_val(ctx).name = std::move(s);
    })];

auto const word_def = x3::lexeme[x3::raw[ident_start >> *ident_char]][([](auto& ctx) {
  auto r = x3::_attr(ctx);
  x3::_val(ctx).assign(r.begin(), r.end());
})];

auto const qualname_raw_def = (identifier % '.')[([](auto& ctx) { x3::_val(ctx).parts = std::move(x3::_attr(ctx)); })];

auto const none_lit_def = kw("none");

auto const bool_lit_raw_def = kw("true")[([](auto& ctx) { x3::_val(ctx).value = true; })] |
                          kw("false")[([](auto& ctx) { x3::_val(ctx).value = false; })];

// One rule reads both kinds of number; a '.' or an exponent makes it a float.
auto const number_lit_raw_def =
    x3::lexeme[x3::raw[-x3::char_("-+") >> +x3::digit >> -('.' >> +x3::digit) >>
                       -(x3::char_("eE") >> -x3::char_("-+") >> +x3::digit)]][([](auto& ctx) {
      auto r = x3::_attr(ctx);
      const char* b = &*r.begin();
      const char* e = b + (r.end() - r.begin());
      auto& n = x3::_val(ctx);
      if (*b == '+') ++b;
      n.is_float = std::find_if(b, e, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) != e;
      if (n.is_float) {
        n.f = std::strtod(std::string(b, e).c_str(), nullptr);
      } else {
        auto res = std::from_chars(b, e, n.i);
        n.overflow = res.ec != std::errc();
      }
    })];

// Escapes inside strings. Braces are doubled: "{{" is a literal '{'.
x3::rule<class escape_char, char> const escape_char = "escape sequence (\\n \\t \\r \\\" \\\\ \\{ \\})";
auto const escape_char_def =
    x3::char_("\"\\{}") | x3::lit('n') >> x3::attr('\n') | x3::lit('t') >> x3::attr('\t') | x3::lit('r') >> x3::attr('\r');
auto const escape = x3::lit('\\') > escape_char;
auto const text_char = escape | x3::lit("{{") >> x3::attr('{') | x3::lit("}}") >> x3::attr('}') |
                       (x3::char_ - x3::char_("\"\\{\n"));

// Appends a piece of a string literal: literal text, or an interpolated name.
auto push_part(bool is_var) {
  return [is_var](auto& ctx) {
    ast::StringPart p;
    p.is_var = is_var;
    p.text = std::move(x3::_attr(ctx));
    auto w = x3::_where(ctx);
    p.begin = offset_of(ctx, &*w.begin());
    p.end = p.begin + static_cast<uint32_t>(w.end() - w.begin());
    x3::_val(ctx).parts.push_back(std::move(p));
  };
}
auto const push_text = push_part(false);
auto const push_var = push_part(true);

auto const interp_name_def = x3::raw[ident_start >> *ident_char][([](auto& ctx) {
  auto r = x3::_attr(ctx);
  x3::_val(ctx).assign(r.begin(), r.end());
})];

x3::rule<class text_run, std::string> const text_run = "string text";
x3::rule<class close_quote> const close_quote = "'\"' to close the string";
auto const close_quote_def = x3::lit('"');
auto const text_run_def = +text_char;

auto const string_lit_raw_def =
    x3::lexeme['"' >> *(text_run[push_text] | ('{' > interp_name > '}')[push_var]) >
               close_quote];

auto const list_lit_raw_def = '[' > -((expr % ',')[([](auto& ctx) { x3::_val(ctx).items = std::move(x3::_attr(ctx)); })]) >
                          -x3::lit(',') > ']';

auto const record_field_def = identifier > ':' > expr;

// After a ',' comes another field or the closing '}': a field that does not
// parse (a reserved word as its name, say) is reported where it stands, not as
// a missing '}' at the end of the previous line.
auto const record_lit_raw_def =
    '{' > -((record_field >> *(',' >> !x3::lit('}') > record_field))[([](auto& ctx) {
      auto& attr = x3::_attr(ctx);
      auto& fields = x3::_val(ctx).fields;
      fields.push_back(std::move(boost::fusion::at_c<0>(attr)));
      for (auto& f : boost::fusion::at_c<1>(attr)) fields.push_back(std::move(f));
    })]) >
    -x3::lit(',') > '}';

auto const paren_expr_def = ('(' > expr > ')')[([](auto& ctx) { x3::_val(ctx) = std::move(x3::_attr(ctx)); })];

// A call's '(' must be on the callee's line: `f` then `(x)` on the next line are
// two statements, so no statement separator is needed.
auto const call_open = &x3::no_skip[*x3::char_(" \t") >> '('];

auto const argument_list_def =
    ('(' > -(argument % ',') > -x3::lit(',') > ')')[([](auto& ctx) {
      auto& a = x3::_attr(ctx);
      if (a) x3::_val(ctx) = std::move(*a);
    })];

auto const argument_raw_def =
    (identifier >> '=' >> expr)[([](auto& ctx) {
      auto& a = x3::_attr(ctx);
      x3::_val(ctx).name = boost::fusion::at_c<0>(a);
      x3::_val(ctx).value = boost::fusion::at_c<1>(a);
    })] |
    expr[([](auto& ctx) { x3::_val(ctx).value = x3::_attr(ctx); })];

auto const name_or_call_def = qualname >> -(call_open >> argument_list);

auto const primary_def = number_lit | string_lit | list_lit | record_lit | none_lit | bool_lit | paren_expr | name_or_call;

auto const postfix_def = primary >> *('.' > identifier);

auto const expr_def = postfix >> *(x3::lit("|>") > name_or_call);

// Types: int, list<float>, record{a: int}, int|tensor. Kept as text.
x3::rule<class type_inner> const type_inner = "type";
auto const type_inner_def = type_atom % '|';
auto const type_field = word > ':' > type_inner;
auto const type_atom_def = word >> -('<' > type_inner > '>') >> -('{' > -(type_field % ',') > '}');
auto const type_expr_raw_def = x3::raw[type_atom % '|'][([](auto& ctx) {
  auto r = x3::_attr(ctx);
  x3::_val(ctx).text.assign(r.begin(), r.end());
})];

// ---- statements -------------------------------------------------------------------

auto const let_stmt_def = kw("let") > identifier > '=' > expr;
auto const param_stmt_def = kw("param") > identifier > ':' > type_expr > -('=' > expr);
auto const import_stmt_raw_def =
    kw("import") > (string_lit[([](auto& ctx) {
                      auto& s = x3::_attr(ctx);
                      auto& v = x3::_val(ctx);
                      v.is_path = true;
                      v.target = s.plain();
                      v.target_begin = s.begin;
                      v.target_end = s.end;
                      if (!s.is_plain()) x3::_pass(ctx) = false;  // no interpolation in import paths
                    })] |
                    qualname[([](auto& ctx) {
                      auto& q = x3::_attr(ctx);
                      auto& v = x3::_val(ctx);
                      v.target = q.joined();
                      v.target_begin = q.begin;
                      v.target_end = q.end;
                    })]);
auto const plugin_stmt_raw_def = kw("plugin") > string_lit[([](auto& ctx) { x3::_val(ctx).name = x3::_attr(ctx); })];
auto const report_stmt_def = kw("report") > string_lit > '=' > expr;
auto const return_stmt_raw_def = kw("return") > expr[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })];
auto const expr_stmt_raw_def = expr[([](auto& ctx) { x3::_val(ctx).value = std::move(x3::_attr(ctx)); })];

auto const pipeline_param_def = identifier >> -(':' > type_expr) >> -('=' > expr);
auto const pipeline_params_def =
    ('(' > -(pipeline_param % ',') > -x3::lit(',') > ')')[([](auto& ctx) {
      auto& a = x3::_attr(ctx);
      if (a) x3::_val(ctx) = std::move(*a);
    })];
auto const pipeline_header_def = kw("pipeline") > identifier > pipeline_params > '{';
auto const for_header_def = kw("for") > identifier > kw("in") > expr > '{';

auto const statement_def = let_stmt | param_stmt | import_stmt | plugin_stmt | report_stmt | return_stmt |
                           pipeline_header | for_header | expr_stmt;

auto const identifier_def = identifier_raw;
auto const qualname_def = qualname_raw;
auto const bool_lit_def = bool_lit_raw;
auto const number_lit_def = number_lit_raw;
auto const string_lit_def = string_lit_raw;
auto const list_lit_def = list_lit_raw;
auto const record_lit_def = record_lit_raw;
auto const type_expr_def = type_expr_raw;
auto const import_stmt_def = import_stmt_raw;
auto const plugin_stmt_def = plugin_stmt_raw;
auto const return_stmt_def = return_stmt_raw;
auto const expr_stmt_def = expr_stmt_raw;
auto const argument_def = argument_raw;

BOOST_SPIRIT_DEFINE(identifier_raw, qualname_raw, bool_lit_raw, number_lit_raw, string_lit_raw, list_lit_raw, record_lit_raw, type_expr_raw, import_stmt_raw, plugin_stmt_raw, return_stmt_raw, expr_stmt_raw, argument_raw)
BOOST_SPIRIT_DEFINE(identifier, word, qualname, none_lit, bool_lit, number_lit, interp_name, escape_char, text_run, close_quote, string_lit,
                    list_lit, record_field, record_lit, paren_expr, argument_list, argument, name_or_call, primary,
                    postfix, expr, type_inner, type_atom, type_expr, let_stmt, param_stmt, import_stmt, plugin_stmt,
                    report_stmt, return_stmt, expr_stmt, pipeline_param, pipeline_params, pipeline_header, for_header,
                    statement)

template <typename Parser, typename Attr>
bool run(Parser const& p, const char*& first, const char* last, const char* file_begin, Attr& out, Failure& fail) {
  auto const with_base = x3::with<file_begin_tag>(file_begin)[p];
  const char* start = first;
  try {
    if (x3::phrase_parse(first, last, with_base, skipper, out, x3::skip_flag::dont_post_skip)) return true;
    fail.where = first == start ? start : first;
    fail.expected.clear();
    return false;
  } catch (x3::expectation_failure<const char*> const& e) {
    fail.where = e.where();
    fail.expected = e.which();
    return false;
  }
}

}  // namespace

bool parse_statement(const char*& first, const char* last, const char* file_begin, ast::SimpleStmt& out,
                     Failure& fail) {
  return run(statement, first, last, file_begin, out, fail);
}

bool parse_expression(const char*& first, const char* last, const char* file_begin, ast::Expr& out, Failure& fail) {
  if (!run(expr, first, last, file_begin, out, fail)) return false;
  skip_trivia(first, last);
  if (first != last) {
    fail.where = first;
    fail.expected = "end of value";
    return false;
  }
  return true;
}

void skip_trivia(const char*& first, const char* last) { x3::parse(first, last, *skipper); }

}  // namespace pipette::lang::grammar
