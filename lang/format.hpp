// `pipette fmt`: the canonical layout of a .pipe file, gofmt style. Line
// breaks are the author's (blank-line runs shrink to one); everything within a
// line is canonical: single spaces, no space inside brackets or around '.',
// `name=value` in call arguments and `x = v` elsewhere, continuation lines
// aligned after their open bracket (or indented by two when the bracket ends its
// line), `|>` continuation lines indented by two, block bodies by two, and the
// trailing comments of consecutive lines aligned. Comments are kept verbatim.
#pragma once

#include <optional>
#include <string>

namespace pipette::lang {

struct FormatResult {
  std::string text;   // the formatted source (valid when error is empty)
  std::string error;  // why the file could not be formatted
};

// Formats source text that parses (callers check that first: a file with syntax
// errors is not touched). Idempotent: format(format(x)) == format(x). As a
// safety net the result is re-lexed and must hold the same tokens as the input;
// if not, `error` says so and the input must be left alone.
FormatResult format_source(const std::string& source);

}  // namespace pipette::lang
