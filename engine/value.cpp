#include "engine/value.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "engine/dataset.hpp"
#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"

namespace pipette {

Value constant_value(const Operand& o) {
  using K = Operand::Kind;
  switch (o.kind) {
    case K::None: return Value();
    case K::Bool: return Value(o.b);
    case K::Int: return Value(o.i);
    case K::Float: return Value(o.f);
    case K::String: return Value(o.s);
    case K::List: {
      c10::impl::GenericList list(c10::AnyType::get());
      for (auto& it : o.items) list.push_back(constant_value(it));
      return Value(list);
    }
    case K::Record: {
      std::vector<std::pair<std::string, Value>> fields;
      for (auto& [k, v] : o.fields) fields.emplace_back(k, constant_value(v));
      return make_record(fields);
    }
    case K::Ref: break;
  }
  throw OpError("internal error: a reference is not a constant");
}

Value string_list_value(const std::vector<std::string>& items) {
  c10::List<std::string> l;
  for (const auto& s : items) l.push_back(s);
  return Value(l);
}

Value make_record(const std::vector<std::pair<std::string, Value>>& fields) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  for (auto& [k, v] : fields) dict.insert(Value(k), v);
  return Value(dict);
}

bool any_within(const Value& v, const std::function<bool(const Value&)>& pred) {
  if (pred(v)) return true;
  if (v.isList())
    for (const auto& it : v.toListRef())
      if (any_within(it, pred)) return true;
  if (v.isGenericDict())
    for (const auto& kv : v.toGenericDict())
      if (any_within(kv.value(), pred)) return true;
  return false;
}

Value map_leaves(const Value& v, const std::function<Value(const Value&)>& fn) {
  if (v.isList()) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& it : v.toListRef()) out.push_back(map_leaves(it, fn));
    return Value(out);
  }
  if (v.isGenericDict()) {
    c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
    for (const auto& kv : v.toGenericDict()) out.insert(kv.key(), map_leaves(kv.value(), fn));
    return Value(out);
  }
  return fn(v);
}

Value select_path(const Value& v, const std::vector<std::string>& path) {
  Value cur = v;
  for (auto& field : path) {
    if (is_dataset(cur)) {  // a whole field of a dataset, read now
      cur = Value(to_dataset(cur)->column(field));
      continue;
    }
    if (!cur.isGenericDict()) throw OpError("cannot take field '" + field + "' of " + describe(cur));
    auto dict = cur.toGenericDict();
    auto it = dict.find(Value(field));
    if (it == dict.end()) throw OpError("the record has no field '" + field + "'");
    cur = it->value();
  }
  return cur;
}

std::string describe(const Value& v) {
  if (v.isNone()) return "none";
  if (v.isBool()) return v.toBool() ? "bool true" : "bool false";
  if (v.isInt()) return "int " + std::to_string(v.toInt());
  if (v.isDouble()) return fmt::format("float {}", v.toDouble());
  if (v.isString()) return "string \"" + v.toStringRef() + "\"";
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    std::string dims;
    for (int64_t i = 0; i < t.dim(); ++i) dims += (i ? ", " : "") + std::to_string(t.size(i));
    return fmt::format("tensor {}[{}] on {}", dtype_name(t.scalar_type()), dims, t.device().str());
  }
  if (v.isList()) return "list of " + std::to_string(v.toListRef().size());
  if (v.isGenericDict()) return "record of " + std::to_string(v.toGenericDict().size()) + " fields";
  if (v.isObject()) return "model " + v.type()->str();
  if (is_dataset(v)) return "dataset " + to_dataset(v)->summary();
  return v.tagKind();
}

}  // namespace pipette
