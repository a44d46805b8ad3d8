#include "stdlib/file_readers.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/op_impl.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

namespace pipette::stdlib {

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

at::ScalarType safetensors_dtype(const std::string& name, const std::filesystem::path& path) {
  static const std::map<std::string, at::ScalarType> types = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool}};
  auto it = types.find(name);
  if (it == types.end()) throw OpError("'" + path.string() + "' holds a tensor of dtype " + name + ", not supported");
  return it->second;
}

}  // namespace

std::map<std::string, at::Tensor> read_safetensors(const std::filesystem::path& path) {
  // 8 bytes little-endian header length, a JSON header, then the raw bytes.
  std::string bytes = read_all(path);
  if (bytes.size() < 8) throw OpError("'" + path.string() + "' is too short to be a safetensors file");
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  if (header > bytes.size() - 8) throw OpError("'" + path.string() + "' has a header longer than the file");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(bytes.substr(8, header));
  } catch (const std::exception& e) {
    throw OpError("'" + path.string() + "' has a malformed safetensors header: " + e.what());
  }
  size_t data = 8 + header;
  std::map<std::string, at::Tensor> out;
  for (auto& [name, info] : meta.items()) {
    if (name == "__metadata__") continue;
    std::vector<int64_t> shape = info.at("shape").get<std::vector<int64_t>>();
    auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
    at::Tensor t = at::empty(shape, safetensors_dtype(info.at("dtype").get<std::string>(), path));
    uint64_t need = static_cast<uint64_t>(t.numel() * t.element_size());
    if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] - offsets[0] != need ||
        data + offsets[1] > bytes.size())
      throw OpError("'" + path.string() + "': tensor '" + name + "' has offsets that do not match its shape");
    std::memcpy(t.data_ptr(), bytes.data() + data + offsets[0], need);  // little-endian, as on this machine
    out[name] = t;
  }
  return out;
}

at::Tensor read_image(const std::filesystem::path& path, int channels, int64_t size) {
  int w = 0, h = 0, stored = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &w, &h, &stored, channels);
  if (!pixels)
    throw OpError("cannot read the image '" + path.string() + "': " + std::string(stbi_failure_reason()));
  at::Tensor img = at::from_blob(pixels, {h, w, channels}, at::kByte).permute({2, 0, 1}).to(at::kFloat).div(255.0);
  stbi_image_free(pixels);
  if (size <= 0) return img.contiguous();
  int64_t side = std::min(h, w), top = (h - side) / 2, left = (w - side) / 2;
  at::Tensor square = img.slice(1, top, top + side).slice(2, left, left + side).unsqueeze(0);
  // Antialiased when shrinking, so that photographs do not alias.
  at::Tensor resized = side > size ? at::_upsample_bilinear2d_aa(square, {size, size}, false)
                                   : at::upsample_bilinear2d(square, {size, size}, false);
  return resized.squeeze(0).clamp(0, 1).contiguous();
}

Table read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream s(line);
    while (std::getline(s, cell, ',')) {
      size_t a = cell.find_first_not_of(" \t\r\""), b = cell.find_last_not_of(" \t\r\"");
      cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
    }
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
  };
  Table t;
  std::string line;
  if (!std::getline(in, line)) throw OpError("'" + path.string() + "' is empty");
  t.columns = split(line);
  std::vector<double> values;
  int64_t rows = 0;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto cells = split(line);
    if (cells.size() != t.columns.size())
      throw OpError(path.string() + ":" + std::to_string(number) + ": " + std::to_string(cells.size()) +
                    " cells, but the header names " + std::to_string(t.columns.size()) + " columns");
    for (size_t c = 0; c < cells.size(); ++c) {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(cells[c], &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != cells[c].size())
        throw OpError(path.string() + ":" + std::to_string(number) + ": column '" + t.columns[c] + "' holds '" +
                      cells[c] + "', not a number");
      values.push_back(v);
    }
    ++rows;
  }
  t.values = at::tensor(values, at::kDouble).view({rows, static_cast<int64_t>(t.columns.size())});
  return t;
}

}  // namespace pipette::stdlib
