#include "engine/model_output.hpp"

#include <ATen/core/jit_type.h>

#include <cctype>

#include "engine/identifier.hpp"
#include "engine/hook_points.hpp"
#include "engine/op_impl.hpp"

namespace pipette {

namespace {

c10::TypePtr forward_return_type(const torch::jit::Module& m, const std::string& file) {
  auto forward = m.find_method("forward");
  if (!forward) throw OpError("'" + file + "' has no forward method");
  const auto& returns = forward->function().getSchema().returns();
  if (returns.size() != 1) return c10::TupleType::create({});
  return returns[0].type();
}

// "(x: Tensor, scale: float) -> Dict[str, Tensor]": forward as a user wrote it.
std::string signature_of(const torch::jit::Module& m) {
  const auto& schema = m.get_method("forward").function().getSchema();
  std::string s = "(";
  for (size_t i = 1; i < schema.arguments().size(); ++i)
    s += (i > 1 ? ", " : "") + schema.arguments()[i].name() + ": " + schema.arguments()[i].type()->annotation_str();
  std::string returns = schema.returns().size() == 1 ? schema.returns()[0].type()->annotation_str() : "(...)";
  return s + ") -> " + returns;
}

bool several_outputs(const c10::TypePtr& t) {
  return t->kind() == c10::TypeKind::TupleType || t->kind() == c10::TypeKind::DictType ||
         t->kind() == c10::TypeKind::ListType;
}

// The start of the wrapper's run-time errors (see the asserts below).
constexpr const char* kMissingKey = "the model's outputs have no key '";
constexpr const char* kMissingPosition = "output=";
constexpr const char* kAssertion = "AssertionError: ";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The `output=` a user would write for the first output of type `t`.
std::string example_choice(const c10::TypePtr& t) {
  if (t->kind() == c10::TypeKind::DictType) return "output=\"logits\" (the key of the tensor to use)";
  return "output=0 (the position of the tensor to use)";
}

}  // namespace

std::optional<std::string> missing_output_error(const std::string& message) {
  size_t at = message.find(kAssertion);
  if (at == std::string::npos) return std::nullopt;
  std::string rest = message.substr(at + std::string(kAssertion).size());
  if (rest.rfind(kMissingKey, 0) != 0 && rest.rfind(kMissingPosition, 0) != 0) return std::nullopt;
  return rest.substr(0, rest.find('\n'));
}

void check_single_output(const torch::jit::Module& m, const std::string& file) {
  c10::TypePtr t = forward_return_type(m, file);
  if (several_outputs(t))
    throw OpError("the model '" + file + "' returns " + t->annotation_str() +
                  ", not one tensor; say which output pipette reads: model.load(" + quoted(file) + ", " +
                  example_choice(t) + ")");
}

namespace {

// The extra arguments as attributes of the wrapper (tensors as buffers, so
// that they move with the model), and the text that passes them to forward:
// ", self.arg0, self.arg1" or ", mask=self.arg_mask".
std::string bind_args(torch::jit::Module& wrapper, const Value& args) {
  std::vector<std::pair<std::string, Value>> named;  // keyword name ("" = positional), value
  if (args.isList()) {
    for (const Value& v : args.toListRef()) named.emplace_back("", v);
  } else if (args.isGenericDict()) {
    for (const auto& kv : args.toGenericDict()) {
      std::string name = kv.key().toStringRef();
      if (!is_identifier(name))
        throw OpError("args= field '" + excerpt(name, 40) + "' is not a name forward can take as a keyword");
      named.emplace_back(name, kv.value());
    }
  } else if (!args.isNone()) {
    throw OpError("args= is a list of forward's extra arguments (args=[mask]) or a record of them by name "
                  "(args={mask: m}), not " + describe(args));
  }
  std::string text;
  for (size_t i = 0; i < named.size(); ++i) {
    const auto& [name, v] = named[i];
    std::string attr = name.empty() ? "arg" + std::to_string(i) : "arg_" + name;
    if (v.isTensor()) wrapper.register_buffer(attr, v.toTensor());
    else if (v.isInt()) wrapper.register_attribute(attr, c10::IntType::get(), v);
    else if (v.isDouble()) wrapper.register_attribute(attr, c10::FloatType::get(), v);
    else if (v.isBool()) wrapper.register_attribute(attr, c10::BoolType::get(), v);
    else if (v.isString()) wrapper.register_attribute(attr, c10::StringType::get(), v);
    else throw OpError("args= takes tensors, numbers, booleans and strings; argument " + std::to_string(i + 1) +
                       " is " + describe(v));
    text += ", " + (name.empty() ? "" : name + "=") + "self." + attr;
  }
  return text;
}

}  // namespace

torch::jit::Module with_output(const torch::jit::Module& m, const Value& output, const Value& args,
                               const std::string& file) {
  c10::TypePtr t = forward_return_type(m, file);
  std::string select;
  if (output.isNone()) {
    if (several_outputs(t)) check_single_output(m, file);  // says which output= to write
    select = "        return out\n";
  } else if (t->kind() == c10::TypeKind::DictType) {
    auto dict = t->expect<c10::DictType>();
    if (!output.isString())
      throw OpError("the model '" + file + "' returns " + t->annotation_str() +
                    ": output= names a key (a string), not a position");
    if (dict->getKeyType()->kind() != c10::TypeKind::StringType || dict->getValueType()->kind() != c10::TypeKind::TensorType)
      throw OpError("the model '" + file + "' returns " + t->annotation_str() +
                    "; output= reads dicts from strings to tensors");
    // The key lives in an attribute, not in the source below: no quoting of
    // whatever characters a user's key holds. (assert, not raise: a module's
    // define() knows no Python exception classes.)
    select =
        "        assert self.key in out, \"" + std::string(kMissingKey) + "\" + self.key + \"'; its keys are \" + "
        "', '.join(list(out.keys()))\n"
        "        return out[self.key]\n";
  } else if (t->kind() == c10::TypeKind::TupleType) {
    auto tuple = t->expect<c10::TupleType>();
    if (!output.isInt())
      throw OpError("the model '" + file + "' returns " + t->annotation_str() +
                    ": output= is a position (0 for the first), not a key");
    auto n = static_cast<int64_t>(tuple->elements().size());
    int64_t i = output.toInt();
    if (i < -n || i >= n)
      throw OpError("output=" + std::to_string(i) + ", but the model '" + file + "' returns " + std::to_string(n) +
                    " outputs (" + t->annotation_str() + "; positions 0 to " + std::to_string(n - 1) + ")");
    if (i < 0) i += n;
    const c10::TypePtr& element = tuple->elements()[static_cast<size_t>(i)];
    if (element->kind() != c10::TypeKind::TensorType)
      throw OpError("output=" + std::to_string(i) + " of the model '" + file + "' is " + element->annotation_str() +
                    ", not a tensor (it returns " + t->annotation_str() + ")");
    select = "        return out[" + std::to_string(i) + "]\n";
  } else if (t->kind() == c10::TypeKind::ListType) {
    if (!output.isInt())
      throw OpError("the model '" + file + "' returns " + t->annotation_str() + ": output= is a position, not a key");
    if (t->expect<c10::ListType>()->getElementType()->kind() != c10::TypeKind::TensorType)
      throw OpError("the model '" + file + "' returns " + t->annotation_str() + "; output= reads lists of tensors");
    select =
        "        assert self.position < len(out) and self.position >= -len(out), \"" + std::string(kMissingPosition) +
        "\" + str(self.position) + "
        "\", but the model returned \" + str(len(out)) + \" outputs\"\n"
        "        return out[self.position]\n";
  } else {
    throw OpError("the model '" + file + "' returns " + t->annotation_str() +
                  "; output= is for models that return a tuple, list or dict of tensors");
  }

  torch::jit::Module wrapper(c10::QualifiedName(std::string(kOutputWrapperNamespace) + "." + kOutputWrapperClass));
  wrapper.register_attribute("training", c10::BoolType::get(), false);
  wrapper.register_attribute("key", c10::StringType::get(), output.isString() ? output.toStringRef() : std::string());
  wrapper.register_attribute("position", c10::IntType::get(), output.isInt() ? output.toInt() : int64_t{0});
  wrapper.register_module("model", m);
  std::string extra = bind_args(wrapper, args);
  try {
    wrapper.define("def forward(self, x: Tensor) -> Tensor:\n        out = self.model.forward(x" + extra + ")\n" +
                   select);
  } catch (const std::exception& e) {
    // forward takes other arguments than these, or returns something else
    // than the selection expects. The compiler's text says which.
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw OpError("the model '" + file + "' has forward" + signature_of(m) + "; " + (extra.empty() ? "it takes more than the input: args= gives the rest" :
                                            "args= does not fit it") + ": " +
                  excerpt(without_torchscript_trace(c10 ? c10->what_without_backtrace() : e.what()), 300));
  }
  return wrapper;
}

}  // namespace pipette
