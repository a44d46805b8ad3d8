#include "stdlib/npy_reader.hpp"

#include <cstring>
#include <fstream>
#include <regex>

#include "engine/op_impl.hpp"

namespace pipette::stdlib {

at::Tensor read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw OpError("'" + path.string() + "' is not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t h = 0;
    in.read(reinterpret_cast<char*>(&h), 2);
    header_len = h;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  if (header_len > (1u << 20)) throw OpError("'" + path.string() + "': .npy header too large");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([<>|=])([a-z])(\\d+)'")))
    throw OpError("'" + path.string() + "': no dtype in the .npy header");
  char order = m[1].str()[0], kind = m[2].str()[0];
  int size = std::stoi(m[3].str());
  if (order == '>') throw OpError("'" + path.string() + "': big-endian .npy files are not supported");
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    throw OpError("'" + path.string() + "': Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  at::ScalarType type;
  if (kind == 'f' && size == 4) type = at::kFloat;
  else if (kind == 'f' && size == 8) type = at::kDouble;
  else if (kind == 'i' && size == 8) type = at::kLong;
  else if (kind == 'i' && size == 4) type = at::kInt;
  else if (kind == 'u' && size == 1) type = at::kByte;
  else if (kind == 'b' && size == 1) type = at::kBool;
  else throw OpError("'" + path.string() + "': unsupported dtype " + m[2].str() + m[3].str());
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    throw OpError("'" + path.string() + "': no shape in the .npy header");
  std::vector<int64_t> shape;
  std::string dims = m[1].str();
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  if (in.gcount() != static_cast<std::streamsize>(t.numel() * t.element_size()))
    throw OpError("'" + path.string() + "' is truncated");
  return t;
}

}  // namespace pipette::stdlib
