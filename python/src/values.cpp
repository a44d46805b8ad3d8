#include "values.hpp"

#include <pybind11/stl.h>

#include <ATen/DLConvertor.h>
#include <torch/script.h>

#include <sstream>

#include "engine/dataset.hpp"

namespace pipette::python {

namespace {

void delete_unused_capsule(PyObject* capsule) {
  // Consumed capsules are renamed "used_dltensor" by the consumer, which then owns the tensor.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* dl = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (dl && dl->deleter) dl->deleter(dl);
  }
}

py::object tensor_to_python(const at::Tensor& t) {
  if (!t.defined()) return py::none();
  // DLPack in LibTorch 1.13 has no bool: cross as bytes and view back (same memory).
  bool is_bool = t.scalar_type() == at::kBool;
  at::Tensor x = is_bool ? t.view(at::kByte) : t;
  DLManagedTensor* dl = at::toDLPack(x);
  py::capsule cap(dl, "dltensor", &delete_unused_capsule);
  return py::module_::import("pipette._convert").attr("tensor_from_capsule")(cap, is_bool);
}

py::object model_to_python(const Value& v) {
  torch::jit::Module m(v.toObject());
  std::ostringstream out;
  m.save(out);
  return py::module_::import("pipette._convert").attr("model_from_bytes")(py::bytes(out.str()));
}

}  // namespace

py::object to_python(const Value& v) {
  if (v.isNone()) return py::none();
  if (v.isTensor()) return tensor_to_python(v.toTensor());
  if (v.isBool()) return py::bool_(v.toBool());
  if (v.isInt()) return py::int_(v.toInt());
  if (v.isDouble()) return py::float_(v.toDouble());
  if (v.isString()) return py::str(v.toStringRef());
  if (is_dataset(v)) return to_python(to_dataset(v)->materialize());
  if (v.isObject()) return model_to_python(v);
  if (v.isGenericDict()) {
    py::dict d;
    for (const auto& kv : v.toGenericDict()) d[to_python(kv.key())] = to_python(kv.value());
    return d;
  }
  if (v.isList() || v.isTuple()) {
    py::list l;
    if (v.isTuple())
      for (const auto& e : v.toTupleRef().elements()) l.append(to_python(e));
    else
      for (const auto& e : v.toListRef()) l.append(to_python(e));
    return l;
  }
  if (v.isIntList()) return py::cast(v.toIntVector());
  if (v.isDoubleList()) return py::cast(v.toDoubleVector());
  return py::str(describe(v));
}

at::Tensor tensor_from_python(py::handle t) {
  py::tuple packed = py::module_::import("pipette._convert").attr("tensor_to_capsule")(t);
  py::capsule cap = packed[0].cast<py::capsule>();
  bool is_bool = packed[1].cast<bool>();
  auto* dl = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  if (!dl) throw py::error_already_set();
  at::Tensor x = at::fromDLPack(dl);
  PyCapsule_SetName(cap.ptr(), "used_dltensor");  // the tensor owns it now
  return is_bool ? x.view(at::kBool) : x;
}

Value model_from_bytes(const std::string& bytes) {
  std::istringstream in(bytes);
  torch::jit::Module m = torch::jit::load(in);
  return Value(m._ivalue());
}

Value value_from_python(py::handle o) {
  if (o.is_none()) return Value();
  py::module_ conv = py::module_::import("pipette._convert");
  if (conv.attr("is_tensor")(o).cast<bool>()) return Value(tensor_from_python(o));
  if (py::isinstance<py::bool_>(o)) return Value(o.cast<bool>());
  if (py::isinstance<py::int_>(o)) return Value(o.cast<int64_t>());
  if (py::isinstance<py::float_>(o)) return Value(o.cast<double>());
  if (py::isinstance<py::str>(o)) return Value(o.cast<std::string>());
  if (py::isinstance<py::dict>(o)) {
    std::vector<std::pair<std::string, Value>> fields;
    for (auto kv : o.cast<py::dict>()) fields.emplace_back(py::str(kv.first).cast<std::string>(), value_from_python(kv.second));
    return make_record(fields);
  }
  if (py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o)) {
    c10::impl::GenericList l(c10::AnyType::get());
    for (auto e : o) l.push_back(value_from_python(e));
    return Value(l);
  }
  throw py::type_error("pipette cannot take a " + py::str(py::type::of(o)).cast<std::string>() +
                       "; it takes tensors, models, numbers, strings, bools, None, lists and dicts");
}

}  // namespace pipette::python
