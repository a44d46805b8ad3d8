#include "stdlib/core/arg_lists.hpp"

namespace pipette::stdlib {

namespace {

// The argument's items: the list's, or the single value itself.
std::vector<Value> items_of(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  if (v.isNone()) return {};
  if (v.isList()) {
    auto ref = v.toListRef();
    return std::vector<Value>(ref.begin(), ref.end());
  }
  return {v};
}

}  // namespace

std::vector<int64_t> int_list(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  if (v.isTensor()) {
    at::Tensor t = v.toTensor().to(at::kCPU, at::kLong).flatten();
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }
  std::vector<int64_t> out;
  for (const auto& item : items_of(a, name)) {
    if (!item.isInt()) throw OpError("'" + name + "' must be an int or a list of ints, found " + describe(item));
    out.push_back(item.toInt());
  }
  return out;
}

std::vector<double> float_list(const OpArgs& a, const std::string& name) {
  std::vector<double> out;
  for (const auto& item : items_of(a, name)) {
    if (!item.isInt() && !item.isDouble())
      throw OpError("'" + name + "' must be a number or a list of numbers, found " + describe(item));
    out.push_back(item.isInt() ? static_cast<double>(item.toInt()) : item.toDouble());
  }
  return out;
}

std::vector<std::string> string_list(const OpArgs& a, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& item : items_of(a, name)) out.push_back(item.isString() ? item.toStringRef() : describe(item));
  return out;
}

std::vector<at::Tensor> tensor_list(const OpArgs& a, const std::string& name) {
  std::vector<at::Tensor> out;
  for (const auto& item : items_of(a, name)) {
    if (!item.isTensor()) throw OpError("'" + name + "' must hold tensors, found " + describe(item));
    out.push_back(item.toTensor());
  }
  return out;
}

}  // namespace pipette::stdlib
