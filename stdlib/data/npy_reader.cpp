#include "stdlib/data/npy_reader.hpp"

#include <cstring>
#include <fstream>
#include <map>

#include "engine/checked_size.hpp"
#include "engine/op_impl.hpp"

namespace pipette::stdlib {

namespace {

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// read by one forward pass with bounded loops (a regex engine recursed per
// character and overflowed its stack on a 60 KB header). Values are kept as
// text: a string's contents, True/False, or a tuple's inside.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& file) : s_(text), file_(file) {}

  std::map<std::string, std::string> dict() {
    std::map<std::string, std::string> out;
    skip_space();
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      skip_space();
      expect(':');
      skip_space();
      std::string value;
      if (peek() == '\'' || peek() == '"') value = quoted();
      else if (peek() == '(') value = tuple();
      else value = word();
      out[key] = value;
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    return out;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw OpError("'" + file_ + "': malformed .npy header (" + what + " at byte " + std::to_string(i_) + ")");
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted name");
    size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) fail("unterminated string");
    return s_.substr(start, i_++ - start);
  }
  std::string tuple() {
    size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != ')') ++i_;
    if (i_ >= s_.size()) fail("unterminated shape");
    return s_.substr(start, i_++ - start);
  }
  std::string word() {
    size_t start = i_;
    while (i_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (start == i_) fail("expected a value");
    return s_.substr(start, i_ - start);
  }

  const std::string& s_;
  const std::string& file_;
  size_t i_ = 0;
};

// "3, 4" or "5," or "": the sizes; negative or non-numeric sizes are refused.
std::vector<int64_t> parse_shape(const std::string& text, const std::string& file) {
  std::vector<int64_t> shape;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    return OpError("'" + file + "': the .npy shape (" + excerpt(text) + ") " + why);
  };
  for (;;) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    if (text[i] == '-') throw bad("has a negative size");
    size_t start = i;
    uint64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
      if (v > (uint64_t{1} << 62)) throw bad("has a size too large for any machine");
      ++i;
    }
    if (i == start) throw bad("is not a list of sizes");
    if (i < text.size() && text[i] == 'L') ++i;  // Python 2's long integers
    shape.push_back(static_cast<int64_t>(v));
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    if (text[i] != ',') throw bad("is not a list of sizes");
    ++i;
  }
  return shape;
}

}  // namespace

at::Tensor read_npy(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + file + "'");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw OpError("'" + file + "' is not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t h = 0;
    in.read(reinterpret_cast<char*>(&h), 2);
    header_len = h;
  } else if (magic[6] == 2 || magic[6] == 3) {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  } else {
    throw OpError("'" + file + "': .npy format version " + std::to_string(static_cast<int>(magic[6])) +
                  " is not one pipette reads (1, 2 or 3)");
  }
  if (!in) throw OpError("'" + file + "' is truncated");
  if (header_len > (1u << 20)) throw OpError("'" + file + "': .npy header too large");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (static_cast<uint32_t>(in.gcount()) != header_len) throw OpError("'" + file + "' is truncated");
  auto fields = HeaderParser(header, file).dict();
  if (!fields.count("descr")) throw OpError("'" + file + "': no dtype in the .npy header");
  if (!fields.count("shape")) throw OpError("'" + file + "': no shape in the .npy header");
  const std::string& descr = fields["descr"];
  if (descr.size() < 3) throw OpError("'" + file + "': unsupported dtype '" + excerpt(descr) + "'");
  char order = descr[0], kind = descr[1];
  std::string bits = descr.substr(2);
  if (order == '>') throw OpError("'" + file + "': big-endian .npy files are not supported");
  if (fields.count("fortran_order") && fields["fortran_order"] == "True")
    throw OpError("'" + file + "': Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  at::ScalarType type;
  if (kind == 'f' && bits == "4") type = at::kFloat;
  else if (kind == 'f' && bits == "8") type = at::kDouble;
  else if (kind == 'f' && bits == "2") type = at::kHalf;
  else if (kind == 'i' && bits == "8") type = at::kLong;
  else if (kind == 'i' && bits == "4") type = at::kInt;
  else if (kind == 'i' && bits == "2") type = at::kShort;
  else if (kind == 'i' && bits == "1") type = at::kChar;
  else if (kind == 'u' && bits == "1") type = at::kByte;
  else if (kind == 'b' && bits == "1") type = at::kBool;
  else throw OpError("'" + file + "': unsupported dtype '" + excerpt(descr) + "'");
  std::vector<int64_t> shape = parse_shape(fields["shape"], file);
  auto need = checked_tensor_bytes(shape, c10::elementSize(type));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  uint64_t data_at = 10 + (magic[6] == 1 ? 0 : 2) + header_len;
  if (!need || (!ec && !checked_range_inside(data_at, *need, size)))
    throw OpError("'" + file + "' is truncated: its shape needs more bytes than the file holds");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(*need));
  if (static_cast<uint64_t>(in.gcount()) != *need) throw OpError("'" + file + "' is truncated");
  return t;
}

}  // namespace pipette::stdlib
