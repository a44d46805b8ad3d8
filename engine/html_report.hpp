// report.html: a run's report.json as one self-contained page (issue 27) —
// no network, no external script or font, so it opens from disk, from a
// cluster's shared directory or as an e-mail attachment. Everything from the
// run (names, strings, paths, the script) is escaped as text; pictures go in
// as data: URIs in <img>, never as inline SVG markup (an SVG can carry script).
#pragma once

#include "engine/api.hpp"

#include <filesystem>
#include <string>

#include "engine/html_page.hpp"

namespace pipette {

// Writes `out_dir`/report.html from `out_dir`/report.json, the tensor files
// it names, the pictures (.png, .svg) saved in `out_dir`, and the script the
// report names, with a timeline of when each node ran. Pictures go in as
// thumbnails within `picture_budget` bytes (PicturePacker), then are linked.
// Throws when report.json cannot be read or report.html written.
PIPETTE_API std::filesystem::path write_html_report(const std::filesystem::path& out_dir,
                                                    size_t picture_budget = 4u << 20);

}  // namespace pipette
