// Statements: let, param, report, expression statements, for loops, and the
// block walk that enforces where each statement may appear.
#include "engine/run_layout.hpp"
#include "lang/elaborator.hpp"
#include "lang/parser.hpp"
#include "engine/suggest.hpp"

namespace pipette::lang {

namespace {

const char* where_name(bool in_pipeline, bool top_level) {
  return in_pipeline ? "a pipeline body" : top_level ? "the top level" : "a for loop";
}

// The op or pipeline an expression statement ends in, if it is a call.
const ast::NameOrCall* final_call(const ast::Expr& e) {
  if (!e.pipes.empty()) return &e.pipes.back();
  if (!e.head.members.empty()) return nullptr;
  if (auto* fwd = boost::get<ast::x3::forward_ast<ast::NameOrCall>>(&e.head.base)) {
    const ast::NameOrCall& c = fwd->get();
    return c.is_call() ? &c : nullptr;
  }
  return nullptr;
}

}  // namespace

std::optional<Value> Elaborator::block(const std::vector<ast::Stmt>& stmts, Scope& scope, bool in_pipeline,
                                       bool top_level) {
  // Names defined further down, for "used before its definition".
  for (auto& stmt : stmts) {
    if (auto* l = std::get_if<ast::LetStmt>(&stmt.v)) scope.later.emplace(l->name.name, span(l->name));
    if (auto* p = std::get_if<ast::ParamStmt>(&stmt.v)) scope.later.emplace(p->name.name, span(p->name));
  }
  std::optional<Value> result;
  const ast::Node* returned = nullptr;
  for (auto& stmt : stmts) {
    if (++work_ > options_.max_nodes * 8) throw TooBig{};
    if (returned) {
      std::visit([&](auto& s) { error(span(s), "statement after 'return' is never reached"); }, stmt.v);
      break;
    }
    std::visit(
        [&](auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, ast::LetStmt>) {
            let_stmt(s, scope);
          } else if constexpr (std::is_same_v<T, ast::ParamStmt>) {
            param_stmt(s, scope, top_level && !in_pipeline);
          } else if constexpr (std::is_same_v<T, ast::ReportStmt>) {
            report_stmt(s, scope);
          } else if constexpr (std::is_same_v<T, ast::ExprStmt>) {
            expr_stmt(s, scope);
          } else if constexpr (std::is_same_v<T, ast::ForStmt>) {
            for_stmt(s, scope, in_pipeline);
          } else if constexpr (std::is_same_v<T, ast::ReturnStmt>) {
            if (!in_pipeline) {
              error(span(s), "'return' outside a pipeline");
              expr(s.value, scope);
            } else {
              result = expr(s.value, scope);
              returned = &s;
            }
          } else if constexpr (std::is_same_v<T, ast::PipelineDef>) {
            if (!top_level || in_pipeline)
              error(span(s.header.name), std::string("a pipeline cannot be defined inside ") +
                                             where_name(in_pipeline, top_level));
            // Top-level pipelines were collected up front; they run when called.
          } else if constexpr (std::is_same_v<T, ast::ImportStmt> || std::is_same_v<T, ast::PluginStmt>) {
            if (!top_level || in_pipeline)
              error(span(s), std::string(std::is_same_v<T, ast::ImportStmt> ? "'import'" : "'plugin'") +
                                 " must be at the top level of a file, not inside " +
                                 where_name(in_pipeline, top_level));
          } else if constexpr (std::is_same_v<T, ast::BrokenStmt>) {
            if (s.defines) {
              Binding b;
              b.kind = Binding::Kind::Broken;
              b.value = Value::poison();
              b.def = span(s);
              scope.names.emplace(*s.defines, b);
              scope.later.erase(*s.defines);
            }
          }
        },
        stmt.v);
  }
  return result;
}

bool Elaborator::check_new_name(const ast::Identifier& id, Scope& scope) {
  scope.later.erase(id.name);
  if (is_reserved_name(id.name)) {
    auto& d = error(span(id), "'" + id.name + "' is the name of an op namespace; a variable may not shadow it");
    d.hints.push_back("choose another name, e.g. '" + id.name + "_'");
    // Bound as poisoned so that its uses are not reported a second time.
    Binding b;
    b.kind = Binding::Kind::Broken;
    b.value = Value::poison();
    b.def = span(id);
    scope.names.emplace(id.name, std::move(b));
    return false;
  }
  if (auto it = scope.names.find(id.name); it != scope.names.end()) {
    if (it->second.kind == Binding::Kind::Broken) return false;
    auto& d = error(span(id), "redefinition of '" + id.name + "'");
    d.notes.push_back({it->second.def, "previous definition is here"});
    return false;
  }
  return true;
}

void Elaborator::let_stmt(const ast::LetStmt& s, Scope& scope) {
  Value v = expr(s.value, scope);
  if (v.no_value) {
    error(span(s.value), "this pipeline returns no value; there is nothing to bind to '" + s.name.name + "'");
    v = Value::poison();
  }
  if (!check_new_name(s.name, scope)) return;
  if (v.usable() && v.op.kind == Operand::Kind::Ref && v.op.path.empty() && !v.abstract &&
      v.op.node < graph_.nodes.size() && graph_.nodes[v.op.node].label.empty())
    graph_.nodes[v.op.node].label = s.name.name;
  Binding b;
  b.kind = Binding::Kind::Let;
  b.value = std::move(v);
  b.def = span(s.name);
  scope.names.emplace(s.name.name, std::move(b));
}

void Elaborator::param_stmt(const ast::ParamStmt& s, Scope& scope, bool top_level) {
  if (file_ != modules_.main().file) return;  // reported by check_module_statements
  if (!top_level) {
    error(span(s), "'param' must be at the top level of the script");
    return;
  }
  auto type = Type::parse(s.type.text);
  if (!type) {
    std::string first = s.type.text.substr(0, s.type.text.find_first_of("<{| "));
    auto& d = error(span(s.type), "unknown type '" + s.type.text + "'");
    if (auto c = closest(first, type_names())) d.hints.push_back("did you mean '" + *c + "'?");
    if (check_new_name(s.name, scope)) {
      Binding b;  // poisoned: its uses are not reported again
      b.kind = Binding::Kind::Broken;
      b.value = Value::poison();
      b.def = span(s.name);
      scope.names.emplace(s.name.name, std::move(b));
    }
    return;
  }
  if (!type->is_constant_kind()) {
    auto& d = error(span(s.type), "a param must have a constant type, not " + type->to_string());
    d.hints.push_back("params are int, float, bool, string, or lists and records of them");
  }
  auto v = param_value(s, *type, scope);
  if (!check_new_name(s.name, scope)) return;
  Binding b;
  b.kind = Binding::Kind::Param;
  b.def = span(s.name);
  if (v) {
    b.value = *v;
    graph_.params.emplace_back(s.name.name, v->op);
  } else {
    b.value = Value::poison();
  }
  scope.names.emplace(s.name.name, std::move(b));
}

// The value of a param: from --set if given there, else its default.
std::optional<Value> Elaborator::param_value(const ast::ParamStmt& s, const Type& type, Scope& scope) {
  const std::string& name = s.name.name;
  std::optional<std::string> set_text;
  for (auto& [k, text] : options_.sets)
    if (k == name) set_text = text;  // the last --set of a name wins, as on most command lines
  Value v;
  if (set_text) {
    sets_used_[name] = true;
    bool quoted = !set_text->empty() && set_text->front() == '"';
    if (type.is(Type::Kind::String) && !quoted) {
      v.op = Operand::string(*set_text);  // --set name=foo needs no quotes for a string param
      v.type = Type::string();
    } else {
      FileId buf = sm_.add("--set " + name, *set_text);
      Diagnostics scratch;
      auto e = parse_value(sm_, buf, scratch);
      if (!e) {
        auto& d = error(span(s.name), "--set " + name + "=" + *set_text + ": not a valid " + type.to_string());
        if (type.accepts(Type::string())) d.hints.push_back("quote strings that look like other values");
        return std::nullopt;
      }
      FileId saved = file_;
      file_ = buf;
      Scope empty;
      empty.barrier = true;
      size_t before = diags_.all().size();
      v = expr(*e, empty);
      file_ = saved;
      if (!v.usable()) {
        // `--set steps=many` reads as a name; say what was wrong with the value instead.
        diags_.truncate(before);
        error(span(s.name), "--set " + name + "=" + *set_text + ": not a valid " + type.to_string());
        return std::nullopt;
      }
      if (!v.constant()) {
        error(span(s.name), "--set " + name + ": the value must be a constant");
        return std::nullopt;
      }
    }
    if (!type.accepts(v.type)) {
      error(span(s.name), "--set " + name + "=" + *set_text + ": expected " + type.to_string() + ", found " +
                              v.type.to_string());
      return std::nullopt;
    }
  } else if (s.default_value) {
    v = expr(*s.default_value, scope);
    if (!v.usable()) return std::nullopt;
    if (!v.constant()) {
      error(span(*s.default_value), "the default of param '" + name + "' must be a constant");
      return std::nullopt;
    }
    if (!type.accepts(v.type)) {
      error(span(*s.default_value), "the default of param '" + name + "' must be " + type.to_string() + ", found " +
                                        v.type.to_string());
      return std::nullopt;
    }
  } else {
    auto& d = error(span(s.name), "param '" + name + "' has no default and no value was given");
    d.hints.push_back("pass one on the command line: --set " + name + "=VALUE");
    return std::nullopt;
  }
  v.op = coerce(v.op, type);
  v.type = type;
  return v;
}

void Elaborator::report_stmt(const ast::ReportStmt& s, Scope& scope) {
  Value name = string_lit(s.name, scope);
  Value v = expr(s.value, scope);
  if (v.no_value) {
    error(span(s.value), "this pipeline returns no value; there is nothing to report");
    return;
  }
  if (!name.usable() || !v.usable() || abstract_depth_ > 0 || name.abstract) return;
  const std::string& text = name.op.s;
  if (text.empty()) {
    error(span(s.name), "a report name cannot be empty");
    return;
  }
  if (auto it = report_names_.find(text); it != report_names_.end()) {
    auto& d = error(span(s.name), "report \"" + text + "\" is written twice");
    if (it->second.begin == span(s.name).begin && it->second.file == file_)
      d.notes.push_back({std::nullopt, "this report runs once per loop iteration, with the same name each time"});
    else
      d.notes.push_back({it->second, "first written here"});
    d.hints.push_back("put a loop variable in the name, e.g. \"" + text + "_{n}\"");
    return;
  }
  // Two names, one file: "a b" and "a_b" both become reports/a_b.pt.
  // By stem, not pair by pair: a script with thousands of reports is checked in O(n log n).
  std::string stem = report_file_stem(text);
  if (auto clash = report_stems_.find(stem); clash != report_stems_.end()) {
    const std::string& other = clash->second;
    auto& d = error(span(s.name), "reports \"" + other + "\" and \"" + text + "\" would share the file reports/" +
                                      stem + ".pt");
    d.notes.push_back({report_names_.at(other), "the other is written here"});
    d.hints.push_back("report names become file names (letters, digits, '-', '_', '.'); make them differ in those");
    return;
  }
  report_names_.emplace(text, span(s.name));
  report_stems_.emplace(stem, text);
  graph_.reports.push_back(Report{text, v.op, v.type, sm_.resolve(span(s))});
}

void Elaborator::expr_stmt(const ast::ExprStmt& s, Scope& scope) {
  Value v = expr(s.value, scope);
  if (!v.usable() && !v.no_value) return;
  const ast::NameOrCall* c = final_call(s.value);
  if (!c) {
    warning(span(s.value), "expression result unused");
    return;
  }
  std::string callee = c->name.joined();
  if (pipelines_.count(callee)) return;  // may save or report inside
  const OpSignature* sig = find_op(callee);
  if (sig && !sig->has_side_effects()) {
    auto& d = warning(span(s.value), "the result of '" + callee + "' is never used, so it will not be computed");
    d.hints.push_back("bind it with let, report it, or save it");
  }
}

void Elaborator::for_stmt(const ast::ForStmt& s, Scope& scope, bool in_pipeline) {
  Value list = expr(s.header.list, scope);
  bool ok_name = true;
  if (is_reserved_name(s.header.var.name)) {
    error(span(s.header.var), "'" + s.header.var.name + "' is the name of an op namespace; a variable may not shadow it");
    ok_name = false;
  }
  auto run_body = [&](Value item) {
    Scope inner;
    inner.parent = &scope;
    if (ok_name) {
      Binding b;
      b.kind = Binding::Kind::Loop;
      b.value = std::move(item);
      b.def = span(s.header.var);
      inner.names.emplace(s.header.var.name, std::move(b));
    }
    block(s.body, inner, in_pipeline, false);
    close_scope(inner);
  };
  auto run_abstract = [&](Type elem) {
    ++abstract_depth_;
    size_t keep = graph_.nodes.size();
    Value item;
    item.abstract = true;
    item.type = std::move(elem);
    run_body(item);
    graph_.nodes.resize(keep);
    --abstract_depth_;
  };

  if (list.poisoned || list.no_value) {
    run_abstract(Type::any());
    return;
  }
  if (list.abstract) {
    run_abstract(list.type.element());
    return;
  }
  if (!list.type.is(Type::Kind::List) || list.op.kind != Operand::Kind::List) {
    auto& d = error(span(s.header.list), "a for loop needs a list, found " + list.type.to_string());
    d.hints.push_back("loop over a list literal or a list param: for n in [10, 20, 40] { ... }");
    run_abstract(Type::any());
    return;
  }
  if (!list.op.is_constant()) {
    auto& d = error(span(s.header.list), "a for loop needs a list known when the script is compiled");
    d.hints.push_back("the loop is unrolled into parallel branches; its list cannot depend on computed values");
    run_abstract(list.type.element());
    return;
  }
  if (list.op.items.empty()) {
    run_abstract(list.type.element());
    return;
  }
  if (abstract_depth_ == 0) check_expansion(nodes_at_least(s.body), list.op.items.size());
  for (auto& item : list.op.items) {
    Value v;
    v.op = item;
    v.type = type_of_constant(item);
    run_body(std::move(v));
  }
}

void Elaborator::close_scope(Scope& scope) {
  for (auto& [name, b] : scope.names) {
    if (b.used || used_early_.count(b.def.begin)) continue;
    if (b.kind == Binding::Kind::Let) {
      auto& d = warning(b.def, "unused variable '" + name + "'");
      d.hints.push_back("nothing uses it, so it will not be computed");
    } else if (b.kind == Binding::Kind::Param) {
      warning(b.def, "param '" + name + "' is never used");
    }
  }
}

}  // namespace pipette::lang
