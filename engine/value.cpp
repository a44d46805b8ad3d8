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

Value make_record(const std::vector<std::pair<std::string, Value>>& fields) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  for (auto& [k, v] : fields) dict.insert(Value(k), v);
  return Value(dict);
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
