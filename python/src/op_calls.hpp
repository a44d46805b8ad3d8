// pipette.ops.NS.OP(...) from Python: the Python side writes the call as one
// line of the language (so keyword arguments are checked with the
// language's messages, did-you-mean included), with its tensors, models and
// other values as python.tensor / python.model / python.dataset /
// python.value placeholders, numbered slots of this call. The line is
// compiled and run like any script, without a cache, in the working directory.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace pipette::python {

namespace py = pybind11;

// The placeholder ops, defined in the session's call library.
void define_placeholder_ops();

// `text`: the call's script (it may start with `plugin "NAME"` lines), where
// `__CALL__` stands for this call's number. `slots`: (kind, value) pairs,
// kind "tensor", "model" (a ModelHandle), "dataset" (a dict of
// tensors) or "value". Returns {"ok": True, "value": ...} or {"ok": False,
// "stage": "compile" | "run", "diagnostics" | "error": ...}; raises
// KeyboardInterrupt after Ctrl-C.
py::dict call_op(const std::string& text, py::list slots, const std::string& device, py::object progress);

}  // namespace pipette::python
