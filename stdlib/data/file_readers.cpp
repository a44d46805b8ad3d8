#include "stdlib/data/file_readers.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/checked_size.hpp"
#include "engine/image_decode.hpp"
#include "engine/op_impl.hpp"

namespace pipette::stdlib {

namespace {

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
  std::string bytes = read_file_bytes(path);
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
  uint64_t data = 8 + header;
  if (!meta.is_object()) throw OpError("'" + path.string() + "' has a safetensors header that is not a JSON object");
  std::map<std::string, at::Tensor> out;
  for (auto& [name, info] : meta.items()) {
    if (name == "__metadata__") continue;
    std::string shown = "'";
    shown.append(path.string()).append("': tensor '").append(excerpt(name)).append("'");
    std::vector<int64_t> shape;
    std::vector<uint64_t> offsets;
    std::string dtype;
    try {
      shape = info.at("shape").get<std::vector<int64_t>>();
      offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      dtype = info.at("dtype").get<std::string>();
    } catch (const std::exception&) {
      throw OpError(shown + " needs a shape (list of sizes), data_offsets (two byte offsets) and a dtype");
    }
    at::ScalarType type = safetensors_dtype(dtype, path);
    // Overflow-safe: offsets near 2^64 must not wrap into the file.
    auto need = checked_tensor_bytes(shape, c10::elementSize(type));
    if (!need) throw OpError(shown + " has an impossible shape (a negative size, or more bytes than fit in memory)");
    if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] - offsets[0] != *need ||
        !checked_range_inside(data, offsets[1], bytes.size()))
      throw OpError(shown + " has offsets that do not match its shape or lie outside the file");
    at::Tensor t = at::empty(shape, type);
    if (*need) std::memcpy(t.data_ptr(), bytes.data() + data + offsets[0], *need);  // little-endian, as on this machine
    out[name] = t;
  }
  return out;
}

at::Tensor read_image(const std::filesystem::path& path, int channels, int64_t size) {
  // The header's size first: a claim of 60000 x 60000 pixels is refused before
  // gigabytes are allocated for it.
  at::Tensor img = decode_image_file(path, channels, uint64_t{1} << 32).permute({2, 0, 1}).to(at::kFloat).div(255.0);
  int64_t h = img.size(1), w = img.size(2);
  if (size <= 0) return img.contiguous();
  int64_t side = std::min(h, w), top = (h - side) / 2, left = (w - side) / 2;
  at::Tensor square = img.slice(1, top, top + side).slice(2, left, left + side).unsqueeze(0);
  // Antialiased when shrinking, so that photographs do not alias.
  at::Tensor resized = side > size ? at::_upsample_bilinear2d_aa(square, {size, size}, false)
                                   : at::upsample_bilinear2d(square, {size, size}, false);
  return resized.squeeze(0).clamp(0, 1).contiguous();
}

namespace {

// RFC 4180 records: fields separated by commas, a field in double quotes may
// hold commas, newlines and "" (one quote). Calls `row(cells, line)` per
// record with the line it starts on; blank lines are skipped. Unquoted cells
// are trimmed of spaces.
template <class Row>
void parse_csv(const std::string& text, const std::string& file, Row&& row) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false, was_quoted = false, any = false;
  int64_t line = 1, start_line = 1;
  auto end_cell = [&] {
    if (!was_quoted) {
      size_t a = cell.find_first_not_of(" \t"), b = cell.find_last_not_of(" \t");
      cell = a == std::string::npos ? std::string() : cell.substr(a, b - a + 1);
    }
    cells.push_back(std::move(cell));
    cell.clear();
    was_quoted = false;
  };
  auto end_row = [&] {
    end_cell();
    bool blank = cells.size() == 1 && cells[0].empty() && !any;
    if (!blank) row(cells, start_line);
    cells.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && cell.find_first_not_of(" \t") == std::string::npos) {
      cell.clear();
      quoted = was_quoted = any = true;
    } else if (c == ',') {
      end_cell();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      start_line = ++line;
    } else {
      cell += c;
    }
  }
  if (quoted) throw OpError(file + ":" + std::to_string(start_line) + ": a quoted cell is not closed");
  if (!cell.empty() || !cells.empty() || any) end_row();
}

}  // namespace

Table read_csv(const std::filesystem::path& path) {
  std::string text = read_file_bytes(path);
  const std::string file = path.string();
  Table t;
  std::vector<double> values;
  int64_t rows = 0;
  bool header = true;
  parse_csv(text, file, [&](const std::vector<std::string>& cells, int64_t line) {
    if (header) {
      t.columns = cells;
      header = false;
      return;
    }
    if (cells.size() != t.columns.size())
      throw OpError(file + ":" + std::to_string(line) + ": " + std::to_string(cells.size()) +
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
        throw OpError(file + ":" + std::to_string(line) + ": column '" + excerpt(t.columns[c]) + "' holds '" +
                      excerpt(cells[c]) + "', not a number");
      values.push_back(v);
    }
    ++rows;
  });
  if (header) throw OpError("'" + file + "' is empty");
  t.values = at::tensor(values, at::kDouble).view({rows, static_cast<int64_t>(t.columns.size())});
  return t;
}

}  // namespace pipette::stdlib
