#include "engine/op_signature.hpp"

#include <stdexcept>

namespace pipette {

namespace {
Type parse_or_throw(const std::string& op, const std::string& text) {
  auto t = Type::parse(text);
  if (!t) throw std::logic_error("op '" + op + "': bad type notation '" + text + "'");
  return *t;
}
}  // namespace

OpSignature::OpSignature(std::string name, std::string doc, int version)
    : name_(std::move(name)), version_(version), doc_(std::move(doc)) {}

OpSignature& OpSignature::input(std::string name, const std::string& type, std::string doc) {
  // Two parameters of one name: calls could only ever reach the first.
  if (find_param(name)) throw std::logic_error(name_ + " declares the parameter '" + name + "' twice");
  ParamSpec p;
  p.name = std::move(name);
  p.type = parse_or_throw(name_, type);
  p.doc = std::move(doc);
  params_.push_back(std::move(p));
  return *this;
}

OpSignature& OpSignature::param(std::string name, const std::string& type, Operand default_value, std::string doc) {
  input(std::move(name), type, std::move(doc));
  last().required = false;
  last().default_value = std::move(default_value);
  return *this;
}

OpSignature& OpSignature::optional(std::string name, const std::string& type, std::string doc) {
  param(std::move(name), type, Operand::none(), std::move(doc));
  last().type = Type::union_of({last().type, Type::none()});
  return *this;
}

OpSignature& OpSignature::compile_time() {
  last().compile_time = true;
  return *this;
}

OpSignature& OpSignature::choices(std::vector<std::string> allowed) {
  last().choices = std::move(allowed);
  last().compile_time = true;
  return *this;
}

OpSignature& OpSignature::range(std::optional<double> min, std::optional<double> max) {
  last().min = min;
  last().max = max;
  return *this;
}

OpSignature& OpSignature::output_path() {
  last().output_path = true;
  last().compile_time = true;
  return *this;
}

OpSignature& OpSignature::input_file() {
  last().input_file = true;
  last().compile_time = true;
  return *this;
}

OpSignature& OpSignature::stochastic() {
  stochastic_ = true;
  return *this;
}

OpSignature& OpSignature::side_effects() {
  side_effects_ = true;
  return *this;
}

OpSignature& OpSignature::returns(const std::string& type, std::string doc) {
  output_ = parse_or_throw(name_, type);
  output_doc_ = std::move(doc);
  return *this;
}

OpSignature& OpSignature::add_param(ParamSpec p) {
  params_.push_back(std::move(p));
  return *this;
}

OpSignature& OpSignature::returns(Type type, std::string doc) {
  output_ = std::move(type);
  output_doc_ = std::move(doc);
  return *this;
}

ParamSpec& OpSignature::last() {
  if (params_.empty()) throw std::logic_error("op '" + name_ + "': modifier before any parameter");
  return params_.back();
}

const ParamSpec* OpSignature::find_param(const std::string& name) const {
  for (auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

std::string OpSignature::summary() const {
  auto end = doc_.find(". ");
  auto nl = doc_.find('\n');
  if (nl != std::string::npos && (end == std::string::npos || nl < end)) return doc_.substr(0, nl);
  return end == std::string::npos ? doc_ : doc_.substr(0, end + 1);
}

std::string OpSignature::to_string() const {
  std::string s = name_ + "(";
  for (size_t i = 0; i < params_.size(); ++i) {
    if (i) s += ", ";
    s += params_[i].name + ": " + params_[i].type.to_string();
    if (!params_[i].required) s += " = " + params_[i].default_value.to_source();
  }
  return s + ") -> " + output_.to_string();
}

}  // namespace pipette
