// What pipette's HTML pages share (report.html, `pipette runs compare`):
// escaping, the style and the little script, values drawn as HTML, and
// saved pictures as thumbnails that enlarge, within a size budget. Pages are
// self-contained: nothing is fetched, and everything from a run is text.
#pragma once

#include "engine/api.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace pipette {

// Text for HTML (and XML) element content and attribute values: & < > " '
// escaped, and control characters other than tab and newline shown as
// Unicode's pictures of them (\x01 as U+2401).
PIPETTE_API std::string html_escape(const std::string& text);

// j[key], or an empty object (array: an empty array) when there is none: a
// reference to iterate over that no later lookup invalidates, never a temporary.
PIPETTE_API const nlohmann::ordered_json& json_member(const nlohmann::ordered_json& j, const char* key, bool array);

// A JSON scalar as text: strings escaped, floats as html_number.
PIPETTE_API std::string html_scalar(const nlohmann::ordered_json& value);

// A number as a page shows it: 6 significant digits, "NaN", "inf".
PIPETTE_API std::string html_number(double v);
// A duration in seconds to 3 significant digits ("0.000343", "1.81"): times
// vary more than that from run to run.
PIPETTE_API std::string html_seconds(double seconds);

// "<!DOCTYPE html>...<body>" with the style, and "...</body></html>" with the
// script (sorting tables, enlarging pictures). `generator` names the page's
// maker in a <meta>, by which a page pipette wrote is known again.
PIPETTE_API std::string html_page_head(const std::string& title, const std::string& generator);
PIPETTE_API std::string html_page_tail();

// A reported value (report.json's form) as HTML: records as nested tables,
// records of equal-length columns as sortable tables, tensors written to
// files (read from `out_dir`) as shape, dtype, statistics and a histogram.
// A value that cannot be drawn is a note, never an exception.
PIPETTE_API std::string html_value(const nlohmann::ordered_json& value, const std::filesystem::path& out_dir);

// The pictures (.png, .svg) a run saved, relative to its directory, in path
// order; hidden files and the reports' own files left out.
PIPETTE_API std::vector<std::filesystem::path> saved_pictures(const std::filesystem::path& out_dir);

// Pictures for one page. Each is a thumbnail (PNGs over `thumb_side` pixels
// scaled down) that enlarges on a click to the picture itself: embedded when
// it is at most `full_limit` bytes and the page's budget allows, else the
// file beside the run, linked relative to the page. Once `budget` bytes are
// embedded, pictures are linked only, so a page stays mailable however many
// pictures a run saved. Symbolic links and PNGs that do not decode are never
// embedded.
class PIPETTE_API PicturePacker {
 public:
  PicturePacker(std::filesystem::path page_dir, size_t budget = 4u << 20, size_t full_limit = 256u << 10,
                int thumb_side = 160);
  // A <figure> for `out_dir`/`rel` captioned `caption`; a note when it is not there.
  std::string figure(const std::filesystem::path& out_dir, const std::filesystem::path& rel, const std::string& caption);
  size_t embedded() const { return embedded_; }

 private:
  std::string href(const std::filesystem::path& file) const;
  std::filesystem::path page_dir_;
  size_t budget_, full_limit_, embedded_ = 0;
  int thumb_side_;
};

}  // namespace pipette
