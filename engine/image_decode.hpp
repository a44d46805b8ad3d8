// Decoding image files (PNG, JPEG, BMP, GIF, TGA) with stb_image, Debian's
// libstb-dev: the one decoder, with the one guard against files that claim
// more pixels than anyone should allocate for (a 2 MB PNG can declare 23170 x
// 23170 pixels, 2 GiB decoded). The standard library's image readers and the
// pages' thumbnails use it.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace pipette {

struct ImageInfo {
  int width = 0, height = 0, channels = 0;  // channels as stored
};

// The header alone; nullopt when the bytes are not an image stb_image reads.
PIPETTE_API std::optional<ImageInfo> image_info(const std::string& bytes);

// uint8 [H, W, C] with C = `channels` (0: as stored). Throws OpError naming
// `shown` when the bytes do not decode, or when the image would take more than
// `max_bytes` decoded, before allocating anything for it.
PIPETTE_API at::Tensor decode_image(const std::string& bytes, int channels, uint64_t max_bytes, const std::string& shown);
PIPETTE_API at::Tensor decode_image_file(const std::filesystem::path& file, int channels, uint64_t max_bytes);

}  // namespace pipette
