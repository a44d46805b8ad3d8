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
  // A string parameter must then be a constant, so that check sees a wrong
  // choice. One that also takes numbers or tensors (baselines=0.5 or a tensor,
  // or "blur") keeps them: its string constants are checked all the same.
  last().compile_time = last().type.to_string() == "string";
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
  if (returns_declared_) add_seed_param();
  return *this;
}

OpSignature& OpSignature::resources(Resources r) {
  resources_ = std::move(r);
  return *this;
}

OpSignature& OpSignature::shardable(std::vector<std::string> per_example, std::string reduce_param) {
  shard_params_ = std::move(per_example);
  shard_reduce_ = std::move(reduce_param);
  return *this;
}

OpSignature& OpSignature::shardable_via(std::string map_op, std::string finish_op) {
  shard_map_ = std::move(map_op);
  shard_finish_ = std::move(finish_op);
  return *this;
}

OpSignature& OpSignature::light() {
  light_ = true;
  return *this;
}

void OpSignature::add_seed_param() {
  if (find_param("seed")) return;
  optional("seed", "int",
           "Seed of this op's random numbers; default: derived from the run seed and the call. Two calls with "
           "different seeds are two draws");
}

OpSignature& OpSignature::images(std::vector<int64_t> channels) {
  last().images = true;
  last().image_channels = std::move(channels);
  return *this;
}

OpSignature& OpSignature::feeds(std::string model_param) {
  last().feeds = std::move(model_param);
  return *this;
}

OpSignature& OpSignature::passes_nonfinite() {
  passes_nonfinite_ = true;
  return *this;
}

OpSignature& OpSignature::may_return_nonfinite() {
  nonfinite_output_ = true;
  return *this;
}

OpSignature& OpSignature::side_effects() {
  side_effects_ = true;
  return *this;
}

OpSignature& OpSignature::returns(const std::string& type, std::string doc) {
  output_ = parse_or_throw(name_, type);
  output_doc_ = std::move(doc);
  returns_declared_ = true;
  if (stochastic_) add_seed_param();
  return *this;
}

OpSignature& OpSignature::add_param(ParamSpec p) {
  params_.push_back(std::move(p));
  return *this;
}

OpSignature& OpSignature::returns(Type type, std::string doc) {
  output_ = std::move(type);
  output_doc_ = std::move(doc);
  returns_declared_ = true;
  if (stochastic_) add_seed_param();
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
  // The first ". " that ends a sentence: not inside parentheses, not after an
  // abbreviation ("(e.g. logits)", "Saberi et al. 2024").
  static const char* const kAbbreviations[] = {"e.g", "i.e", "al", "cf", "vs", "etc", "approx", "resp", "Fig", "Eq"};
  int depth = 0;
  for (size_t i = 0; i < doc_.size(); ++i) {
    char c = doc_[i];
    if (c == '\n') return doc_.substr(0, i);
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c != '.' || depth > 0 || i + 1 >= doc_.size() || doc_[i + 1] != ' ') continue;
    size_t word = doc_.find_last_of(" (", i == 0 ? 0 : i - 1);
    std::string before = doc_.substr(word == std::string::npos ? 0 : word + 1, i - (word == std::string::npos ? 0 : word + 1));
    bool abbreviation = false;
    for (const char* a : kAbbreviations) abbreviation |= before == a;
    if (!abbreviation) return doc_.substr(0, i + 1);
  }
  return doc_;
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
