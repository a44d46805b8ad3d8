// Expressions: literals, names, member access, string interpolation, pipes.
#include <cmath>

#include <fmt/format.h>

#include "lang/elaborator.hpp"
#include "engine/suggest.hpp"

namespace pipette::lang {

Value Elaborator::expr(const ast::Expr& e, Scope& scope) {
  if (++work_ > options_.max_nodes * 8) throw TooBig{};
  Value v;
  // `x.a.b` is all QualName; members after a call or literal come from Postfix.
  v = primary(e.head.base, scope);
  for (auto& m : e.head.members) v = member(v, m);
  // Pipes are a flat list, walked in a loop: a chain of any length needs no stack.
  Span so_far = span(e.head);
  for (auto& stage : e.pipes) {
    v = call(stage, std::move(v), so_far, scope);
    so_far.end = stage.end;
  }
  return v;
}

Value Elaborator::primary(const ast::Primary& p, Scope& scope) {
  struct Visitor {
    Elaborator& el;
    Scope& scope;
    using result_type = Value;
    Value operator()(const ast::NoneLit&) const {
      Value v;
      v.type = Type::none();
      return v;
    }
    Value operator()(const ast::BoolLit& b) const {
      Value v;
      v.op = Operand::boolean(b.value);
      v.type = Type::bool_();
      return v;
    }
    Value operator()(const ast::NumberLit& n) const { return el.number(n); }
    Value operator()(const ast::StringLit& s) const { return el.string_lit(s, scope); }
    Value operator()(const ast::x3::forward_ast<ast::ListLit>& l) const {
      std::vector<Operand> items;
      std::vector<Type> types;
      bool poisoned = false, abstract = false;
      for (auto& item : l.get().items) {
        Value v = el.expr(item, scope);
        if (v.no_value) {
          el.error(el.span(item), "this pipeline returns no value");
          v = Value::poison();
        }
        poisoned |= v.poisoned;
        abstract |= v.abstract;
        items.push_back(v.op);
        types.push_back(v.type);
      }
      if (poisoned) return Value::poison();
      Value v;
      v.op = Operand::list(std::move(items));
      v.type = Type::list(types.empty() ? Type::any() : Type::union_of(types));
      v.abstract = abstract;
      return v;
    }
    Value operator()(const ast::x3::forward_ast<ast::RecordLit>& r) const {
      std::vector<std::pair<std::string, Operand>> fields;
      std::vector<Type::Field> types;
      std::map<std::string, Span> seen;
      bool poisoned = false, abstract = false;
      for (auto& f : r.get().fields) {
        Value v = el.expr(f.value, scope);
        if (v.no_value) {
          el.error(el.span(f.value), "this pipeline returns no value");
          v = Value::poison();
        }
        if (auto it = seen.find(f.name.name); it != seen.end()) {
          auto& d = el.error(el.span(f.name), "duplicate field '" + f.name.name + "' in record");
          d.notes.push_back({it->second, "first given here"});
          poisoned = true;
          continue;
        }
        seen.emplace(f.name.name, el.span(f.name));
        poisoned |= v.poisoned;
        abstract |= v.abstract;
        fields.emplace_back(f.name.name, v.op);
        types.push_back({f.name.name, v.type});
      }
      if (poisoned) return Value::poison();
      Value v;
      v.op = Operand::record(std::move(fields));
      v.type = Type::record(std::move(types));
      v.abstract = abstract;
      return v;
    }
    Value operator()(const ast::x3::forward_ast<ast::NameOrCall>& c) const {
      if (c.get().is_call()) return el.call(c.get(), std::nullopt, Span{}, scope);
      return el.name(c.get().name, scope);
    }
    Value operator()(const ast::x3::forward_ast<ast::Expr>& e) const { return el.expr(e.get(), scope); }
  };
  return boost::apply_visitor(Visitor{*this, scope}, p);
}

Value Elaborator::number(const ast::NumberLit& n) {
  Value v;
  if (n.is_float) {
    v.op = Operand::real(n.f);
    v.type = Type::float_();
    if (!std::isfinite(n.f)) {
      error(span(n), "number is too large for a 64-bit float");
      return Value::poison();
    }
  } else if (n.overflow) {
    error(span(n), "integer literal does not fit in 64 bits");
    return Value::poison();
  } else {
    v.op = Operand::integer(n.i);
    v.type = Type::int_();
  }
  return v;
}

Binding* Elaborator::lookup(const std::string& name, Scope& scope) {
  for (Scope* s = &scope; s; s = s->parent) {
    if (auto it = s->names.find(name); it != s->names.end()) return &it->second;
    if (s->barrier) break;
  }
  return nullptr;
}

void Elaborator::unknown_name(const std::string& name, Span at, Scope& scope) {
  for (Scope* s = &scope; s; s = s->parent) {
    if (auto it = s->later.find(name); it != s->later.end()) {
      used_early_.insert(it->second.begin);  // not "unused" as well
      auto& d = error(at, "'" + name + "' is used before its definition");
      d.notes.push_back({it->second, "'" + name + "' is defined here"});
      return;
    }
    if (s->barrier) break;
  }
  std::vector<std::string> visible;
  bool behind_barrier = false;
  for (Scope* s = &scope; s; s = s->parent) {
    for (auto& [k, v] : s->names) visible.push_back(k);
    if (s->barrier) {
      behind_barrier = true;
      break;
    }
  }
  auto& d = error(at, "unknown name '" + name + "'");
  if (auto c = closest(name, visible)) d.hints.push_back("did you mean '" + *c + "'?");
  else if (behind_barrier && !call_stack_.empty())
    d.hints.push_back("a pipeline sees only its parameters and its own lets; pass '" + name + "' as a parameter");
}

Value Elaborator::name(const ast::QualName& q, Scope& scope) {
  const ast::Identifier& head = q.parts.front();
  if (Binding* b = lookup(head.name, scope)) {
    b->used = true;
    Value v = b->value;
    for (size_t i = 1; i < q.parts.size(); ++i) v = member(v, q.parts[i]);
    return v;
  }
  std::string full = q.joined();
  if (find_op(full)) {
    auto& d = error(span(q), "'" + full + "' is an op; call it with arguments");
    d.hints.push_back("write " + full + "(...)");
    return Value::poison();
  }
  if (q.parts.size() == 1 && is_reserved_name(head.name)) {
    error(span(q), "'" + full + "' is an op namespace, not a value");
    return Value::poison();
  }
  if (is_reserved_name(head.name)) {
    // `attr.integrated_gradient` without parens: an op name, probably misspelled.
    auto& d = error(span(q), "unknown op '" + full + "'");
    if (auto c = closest(full, callable_names())) d.hints.push_back("did you mean '" + *c + "'?");
    return Value::poison();
  }
  if (pipelines_.count(head.name)) {
    auto& d = error(span(head), "'" + head.name + "' is a pipeline; call it with arguments");
    d.hints.push_back("write " + head.name + "(...)");
    return Value::poison();
  }
  unknown_name(head.name, span(head), scope);
  return Value::poison();
}

Value Elaborator::member(const Value& base, const ast::Identifier& field) {
  if (base.poisoned) return base;
  if (base.no_value) {
    error(span(field), "this pipeline returns no value; it has no field '" + field.name + "'");
    return Value::poison();
  }
  const Type& t = base.type;
  if (!t.is(Type::Kind::Record) && !t.is(Type::Kind::Dataset) && !t.is(Type::Kind::Any)) {
    error(span(field), "a value of type " + t.to_string() + " has no field '" + field.name + "'");
    return Value::poison();
  }
  Value v;
  v.abstract = base.abstract;
  if (t.fields()) {
    const Type* ft = t.field(field.name);
    if (!ft) {
      std::vector<std::string> names;
      for (auto& f : *t.fields()) names.push_back(f.name);
      auto& d = error(span(field), "no field '" + field.name + "' in " + t.to_string());
      if (auto c = closest(field.name, names)) d.hints.push_back("did you mean '" + *c + "'?");
      return Value::poison();
    }
    v.type = *ft;
  } else {
    // An open record: checked when the script runs. A dataset's field read whole is a tensor.
    v.type = t.is(Type::Kind::Dataset) ? Type::tensor() : Type::any();
  }
  if (base.op.kind == Operand::Kind::Record) {
    for (auto& [k, o] : base.op.fields)
      if (k == field.name) v.op = o;
    return v;
  }
  if (base.op.kind == Operand::Kind::Ref) {
    v.op = base.op;
    v.op.path.push_back(field.name);
    return v;
  }
  if (!base.abstract) {
    error(span(field), "a value of type " + t.to_string() + " has no field '" + field.name + "'");
    return Value::poison();
  }
  return v;
}

Value Elaborator::string_lit(const ast::StringLit& s, Scope& scope) {
  Value v;
  v.type = Type::string();
  std::string text;
  bool poisoned = false;
  for (auto& part : s.parts) {
    if (!part.is_var) {
      text += part.text;
      continue;
    }
    Span at{file_, part.begin, part.end};
    Binding* b = lookup(part.text, scope);
    if (!b) {
      unknown_name(part.text, at, scope);
      poisoned = true;
      continue;
    }
    b->used = true;
    const Value& x = b->value;
    if (x.poisoned) {
      poisoned = true;
      continue;
    }
    if (x.abstract) {
      v.abstract = true;
      text += "?";
      continue;
    }
    bool scalar = x.op.kind == Operand::Kind::Int || x.op.kind == Operand::Kind::Float ||
                  x.op.kind == Operand::Kind::Bool || x.op.kind == Operand::Kind::String;
    if (!scalar) {
      auto& d = error(at, "cannot put '" + part.text + "' into a string: " +
                              (x.op.is_constant() ? "it is a " + x.type.to_string() + ", not a scalar"
                                                  : "its value is only known when the script runs"));
      d.hints.push_back("interpolate params, loop variables and other constants: int, float, bool or string");
      poisoned = true;
      continue;
    }
    text += x.op.to_display();
  }
  if (poisoned) return Value::poison();
  v.op = Operand::string(std::move(text));
  return v;
}

}  // namespace pipette::lang
