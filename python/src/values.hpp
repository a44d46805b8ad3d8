// Values between pipette and Python. Tensors cross as DLPack capsules, so a
// tensor is the same memory on both sides (no copy either way); records
// become dicts, lists lists, datasets dicts of their fields, models
// torch.jit.ScriptModules (serialized: a module has no shared-memory form).
// Every function here needs the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "engine/value.hpp"

namespace pipette::python {

namespace py = pybind11;

// A pipette value as the Python object a PyTorch user expects.
py::object to_python(const Value& v);

// A torch.Tensor (any dtype, device, strides) as an at::Tensor on the same memory.
at::Tensor tensor_from_python(py::handle t);
// A torch.jit.ScriptModule, from the bytes torch.jit.save wrote.
Value model_from_bytes(const std::string& bytes);
// A TorchScript module on pipette's side, loaded once.
struct ModelHandle {
  Value model;
};

// Tensors, numbers, strings, bools, None, lists and dicts of them.
Value value_from_python(py::handle o);

}  // namespace pipette::python
