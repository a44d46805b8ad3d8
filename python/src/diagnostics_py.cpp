#include "diagnostics_py.hpp"

namespace pipette::python {

namespace {

const char* severity_name(lang::Severity s) {
  switch (s) {
    case lang::Severity::Error: return "error";
    case lang::Severity::Warning: return "warning";
    case lang::Severity::Note: return "note";
  }
  return "error";
}

void put_location(py::dict& d, const lang::SourceManager& sm, const std::optional<lang::Span>& span) {
  if (!span) {
    d["file"] = py::none(), d["line"] = py::none(), d["column"] = py::none();
    return;
  }
  SourceLoc at = sm.resolve(*span);
  d["file"] = at.file;
  d["line"] = at.line;
  d["column"] = at.column;
  d["length"] = at.length;
}

}  // namespace

py::list diagnostics_to_python(const lang::Compiler& c) {
  py::list out;
  for (const auto& diag : c.diagnostics().all()) {
    py::dict d;
    put_location(d, c.sources(), diag.span);
    d["severity"] = severity_name(diag.severity);
    d["message"] = diag.message;
    py::list hints, notes;
    for (auto& h : diag.hints) hints.append(h);
    for (auto& n : diag.notes) {
      py::dict note;
      put_location(note, c.sources(), n.span);
      note["message"] = n.message;
      notes.append(note);
    }
    d["hints"] = hints;
    d["notes"] = notes;
    out.append(d);
  }
  return out;
}

}  // namespace pipette::python
