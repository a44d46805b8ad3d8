#include "engine/image_decode.hpp"

#include <cstring>
#include <fstream>
#include <limits>

#include "engine/checked_size.hpp"
#include "engine/op_impl.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

namespace pipette {

namespace {

const stbi_uc* data_of(const std::string& bytes) { return reinterpret_cast<const stbi_uc*>(bytes.data()); }

}  // namespace

std::optional<ImageInfo> image_info(const std::string& bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return std::nullopt;
  ImageInfo i;
  if (!stbi_info_from_memory(data_of(bytes), static_cast<int>(bytes.size()), &i.width, &i.height, &i.channels))
    return std::nullopt;
  return i;
}

at::Tensor decode_image(const std::string& bytes, int channels, uint64_t max_bytes, const std::string& shown) {
  auto info = image_info(bytes);
  if (!info) {
    const char* why = bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ? "larger than 2 GiB"
                                                                                            : stbi_failure_reason();
    throw OpError("cannot read the image '" + shown + "': " + std::string(why ? why : "not an image"));
  }
  int c = channels > 0 ? channels : info->channels;
  auto need = checked_tensor_bytes({info->width, info->height, c}, 1);
  if (info->width <= 0 || info->height <= 0 || !need || *need > max_bytes)
    throw OpError("the image '" + shown + "' claims " + std::to_string(info->width) + " x " +
                  std::to_string(info->height) + " pixels; " + std::to_string(max_bytes >> 20) +
                  " MiB decoded is the most pipette reads here");
  int w = 0, h = 0, stored = 0;
  stbi_uc* pixels = stbi_load_from_memory(data_of(bytes), static_cast<int>(bytes.size()), &w, &h, &stored, c);
  if (!pixels) throw OpError("cannot read the image '" + shown + "': " + std::string(stbi_failure_reason()));
  at::Tensor out = at::empty({h, w, c}, at::kByte);
  std::memcpy(out.data_ptr(), pixels, static_cast<size_t>(*need));
  stbi_image_free(pixels);
  return out;
}

at::Tensor decode_image_file(const std::filesystem::path& file, int channels, uint64_t max_bytes) {
  std::string bytes;
  try {
    bytes = read_file_bytes(file);
  } catch (const OpError&) {
    throw OpError("cannot read the image '" + file.string() + "': it cannot be opened");
  }
  return decode_image(bytes, channels, max_bytes, file.string());
}

}  // namespace pipette
