// report.html: a run's report.json as one self-contained page (issue 27) —
// no network, no external script or font, so it opens from disk, from a
// cluster's shared directory or as an e-mail attachment. Everything from the
// run (names, strings, paths, the script) is escaped as text; pictures go in
// as data: URIs in <img>, never as inline SVG markup (an SVG can carry script).
#pragma once

#include "engine/api.hpp"

#include <filesystem>
#include <string>

namespace pipette {

// Text for HTML element content and attribute values: & < > " ' escaped, and
// control characters other than tab and newline shown as \xNN.
PIPETTE_API std::string html_escape(const std::string& text);

// Writes `out_dir`/report.html from `out_dir`/report.json, the tensor files
// it names, the pictures (.png, .svg) saved in `out_dir`, and the script the
// report names. Files larger than `embed_limit` bytes are linked, not
// embedded. Throws when report.json cannot be read or report.html written.
PIPETTE_API std::filesystem::path write_html_report(const std::filesystem::path& out_dir,
                                                    size_t embed_limit = 1u << 20);

}  // namespace pipette
