// Small PNGs for pages: a saved picture scaled down so a report with a
// hundred of them stays a few megabytes (report.html, runs compare).
#pragma once

#include "engine/api.hpp"

#include <optional>
#include <string>

namespace pipette {

struct Thumbnail {
  std::string bytes;
  const char* mime;  // "image/png" or "image/jpeg"
};

// `png` (a PNG file's bytes) scaled so its longer side is `max_side` pixels,
// by averaging the pixels each thumbnail pixel covers: as a PNG, or as a JPEG
// where that is less than half the size (photographs, noise) and the picture
// has no transparency. nullopt when it is no larger than that already (use it
// as it is), does not decode, or claims more than 16 megapixels.
PIPETTE_API std::optional<Thumbnail> png_thumbnail(const std::string& png, int max_side);

}  // namespace pipette
