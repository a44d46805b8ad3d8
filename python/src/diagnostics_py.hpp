// Compiler diagnostics as Python dicts: {file, line, column, end_line,
// end_column, severity, message, hints, notes}.
#pragma once

#include <pybind11/pybind11.h>

#include "lang/compiler.hpp"

namespace pipette::python {

namespace py = pybind11;

py::list diagnostics_to_python(const lang::Compiler& c);

}  // namespace pipette::python
