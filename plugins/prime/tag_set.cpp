#include "tag_set.hpp"

#include <fmt/format.h>

#include <set>

namespace prime {

using pipette::OpError;
using pipette::Value;

namespace {
const std::string kJoin = " & ";
}

TagSet make_tag_set(std::vector<std::string> names, const at::Tensor& values, const std::string& what) {
  if (values.dim() != 2)
    throw OpError(fmt::format("{} must be a 2-D tensor [images, tags], found {}", what, pipette::describe(Value(values))));
  if (static_cast<int64_t>(names.size()) != values.size(1))
    throw OpError(fmt::format("{} has {} tag columns but {} names", what, values.size(1), names.size()));
  std::set<std::string> seen;
  for (const auto& n : names) {
    if (n.empty()) throw OpError(what + " has a tag with an empty name");
    if (n.find(kJoin) != std::string::npos)
      throw OpError(fmt::format("tag name '{}' contains '{}', which separates tags in the modes table", n, kJoin));
    if (!seen.insert(n).second) throw OpError(fmt::format("{} names the tag '{}' twice", what, n));
  }
  at::Tensor v = values.to(at::kCPU);
  if (v.is_floating_point()) {
    if (v.isnan().any().item<bool>()) throw OpError(what + " holds NaN");
    if ((v.ne(0) & v.ne(1)).any().item<bool>())
      throw OpError(what + " must hold 0/1 (or true/false) values; threshold scores first (prime.tag does)");
  } else if (v.scalar_type() != at::kBool && (v.ne(0) & v.ne(1)).any().item<bool>()) {
    throw OpError(what + " must hold 0/1 (or true/false) values");
  }
  return TagSet{std::move(names), v.to(at::kBool).contiguous(), at::Tensor()};
}

TagSet tag_set_arg(const pipette::OpArgs& a, const std::string& name) { return tag_set_of(a[name], "'" + name + "'"); }

TagSet tag_set_of(const Value& v, const std::string& what) {
  if (!v.isGenericDict()) throw OpError(what + " must be tags {names, values}, found " + pipette::describe(v));
  auto dict = v.toGenericDict();
  if (!dict.contains("names") || !dict.contains("values"))
    throw OpError(what + " must be tags: a record with `names` (list of strings) and `values` [N, T]");
  std::vector<std::string> names = strings_of(dict.at("names"), what + ".names");
  Value values = dict.at("values");
  if (!values.isTensor()) throw OpError(what + ".values must be a tensor");
  TagSet t = make_tag_set(std::move(names), values.toTensor(), what);
  if (dict.contains("cuts") && dict.at("cuts").isTensor()) t.cuts = dict.at("cuts").toTensor();
  return t;
}

Value to_value(const TagSet& t) {
  c10::List<std::string> names;
  for (const auto& n : t.names) names.push_back(n);
  std::vector<std::pair<std::string, Value>> fields{{"names", Value(names)}, {"values", Value(t.values)}};
  if (t.cuts.defined()) fields.emplace_back("cuts", Value(t.cuts));
  return pipette::make_record(fields);
}

Outcomes outcomes_arg(const pipette::OpArgs& a, int64_t rows) {
  at::Tensor y = a.tensor("labels").to(at::kCPU);
  at::Tensor p = a.tensor("predictions").to(at::kCPU);
  if (y.dim() != 1) throw OpError("labels must be one class index per image [N], found " + pipette::describe(Value(y)));
  if (y.is_floating_point()) {
    if (y.isnan().any().item<bool>()) throw OpError("labels hold NaN");
    if (y.ne(y.round()).any().item<bool>()) throw OpError("labels must be whole class indices");
  }
  if (y.size(0) != rows)
    throw OpError(fmt::format("the tags describe {} images but there are {} labels", rows, y.size(0)));
  if (p.size(0) != rows || p.dim() < 1 || p.dim() > 2)
    throw OpError(fmt::format("predictions must be [N] class indices or [N, K] scores for the {} images, found {}",
                              rows, pipette::describe(Value(p))));
  if (p.is_floating_point() && p.isnan().any().item<bool>()) {
    int64_t row = p.isnan().reshape({rows, -1}).any(1).nonzero().view(-1)[0].item<int64_t>();
    throw OpError(fmt::format("predictions hold NaN (first at image {}): the model's outputs are not usable", row));
  }
  Outcomes o;
  o.labels = y.to(at::kLong);
  if (rows > 0 && o.labels.min().item<int64_t>() < 0) throw OpError("labels must not be negative");
  o.predicted = p.dim() == 2 ? p.argmax(1) : p.to(at::kLong);
  o.correct = o.predicted.eq(o.labels);
  int64_t top = rows ? std::max(o.labels.max().item<int64_t>(), o.predicted.max().item<int64_t>()) : -1;
  o.classes = std::max<int64_t>(top + 1, p.dim() == 2 ? p.size(1) : 0);
  return o;
}

std::vector<std::string> strings_arg(const pipette::OpArgs& a, const std::string& name) {
  std::vector<std::string> out;
  if (a.is_none(name)) return out;
  for (const auto& s : a[name].toListRef()) out.push_back(s.toStringRef());
  return out;
}

Value int_column(const std::vector<int64_t>& v) { return Value(c10::List<int64_t>(v)); }
Value float_column(const std::vector<double>& v) { return Value(c10::List<double>(v)); }
Value string_column(const std::vector<std::string>& v) {
  c10::List<std::string> l;
  for (const auto& s : v) l.push_back(s);
  return Value(l);
}

namespace {

at::Tensor numbers_of(const Value& v, const std::string& what) {
  if (v.isTensor()) return v.toTensor().to(at::kCPU, at::kDouble).reshape(-1);
  if (v.isInt() || v.isDouble()) return at::tensor({v.toScalar().toDouble()}, at::kDouble);
  if (v.isList()) {
    std::vector<double> out;
    for (const auto& x : v.toListRef()) {
      if (!x.isInt() && !x.isDouble()) throw OpError(what + " must hold numbers, found " + pipette::describe(x));
      out.push_back(x.toScalar().toDouble());
    }
    return at::tensor(out, at::kDouble);
  }
  throw OpError(what + " must be a list of numbers, found " + pipette::describe(v));
}

}  // namespace

std::vector<int64_t> ints_of(const Value& v, const std::string& what) {
  at::Tensor t = numbers_of(v, what).round().to(at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

std::vector<double> floats_of(const Value& v, const std::string& what) {
  at::Tensor t = numbers_of(v, what).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::vector<std::string> strings_of(const Value& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.isString()) return {v.toStringRef()};
  if (!v.isList()) throw OpError(what + " must be a list of strings, found " + pipette::describe(v));
  for (const auto& s : v.toListRef()) {
    if (!s.isString()) throw OpError(what + " must be a list of strings, found " + pipette::describe(s));
    out.push_back(s.toStringRef());
  }
  return out;
}

std::vector<std::string> class_names(const pipette::OpArgs& a, int64_t classes) {
  std::vector<std::string> names = strings_arg(a, "classes");
  if (!names.empty() && static_cast<int64_t>(names.size()) < classes)
    throw OpError(fmt::format("'classes' names {} classes but the labels and predictions use {}", names.size(), classes));
  for (int64_t c = static_cast<int64_t>(names.size()); c < classes; ++c) names.push_back(fmt::format("class {}", c));
  return names;
}

std::string join_tags(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? kJoin : "") + names[i];
  return s;
}

std::vector<std::string> split_tags(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = joined.find(kJoin, start);
    out.push_back(joined.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + kJoin.size();
  }
  return out;
}

std::string spoken(const std::vector<std::string>& tags) {
  std::string s;
  for (size_t i = 0; i < tags.size(); ++i) {
    std::string t = tags[i];
    for (char& c : t)
      if (c == '_') c = ' ';
    s += (i == 0 ? "" : i + 1 == tags.size() ? " and " : ", ") + t;
  }
  return s;
}

std::vector<int64_t> tag_indices(const TagSet& t, const std::vector<std::string>& names) {
  std::vector<int64_t> out;
  for (const auto& n : names) {
    auto it = std::find(t.names.begin(), t.names.end(), n);
    if (it == t.names.end()) throw OpError("the tags have no tag named '" + n + "'");
    out.push_back(it - t.names.begin());
  }
  return out;
}

}  // namespace prime
