#include "engine/value_io.hpp"

#include "engine/model_file.hpp"
#include "engine/pt2_module.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/dataset.hpp"
#include "engine/op_impl.hpp"
#include "engine/torch_file.hpp"

namespace pipette {

namespace {

using json = nlohmann::ordered_json;

// NaN and Inf have no JSON number; a silent null would read as "no value".
// They are written as the strings Python's float() reads back.
json number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

json tensor_values(const at::Tensor& t) {
  if (t.dim() == 0) {
    if (t.is_floating_point()) return number(t.item<double>());
    if (t.scalar_type() == at::kBool) return t.item<bool>();
    return t.item<int64_t>();
  }
  json a = json::array();
  for (int64_t i = 0; i < t.size(0); ++i) a.push_back(tensor_values(t[i]));
  return a;
}

}  // namespace

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

json value_to_json(const Value& v, const TensorSink& sink) {
  if (v.isNone()) return nullptr;
  if (v.isBool()) return v.toBool();
  if (v.isInt()) return v.toInt();
  if (v.isDouble()) return number(v.toDouble());
  if (v.isString()) return v.toStringRef();
  if (v.isTensor()) {
    at::Tensor t = v.toTensor().detach().to(at::kCPU);
    if (t.numel() == 1) return tensor_values(t.reshape({}));
    if (sink) {
      if (auto file = sink(t)) {
        json shape = json::array();
        for (int64_t i = 0; i < t.dim(); ++i) shape.push_back(t.size(i));
        return json{{"file", *file}, {"shape", shape}, {"dtype", dtype_name(t.scalar_type())}};
      }
    }
    return tensor_values(t);
  }
  if (v.isList()) {
    json a = json::array();
    for (const auto& it : v.toListRef()) a.push_back(value_to_json(it, sink));
    return a;
  }
  if (v.isGenericDict()) {
    json o = json::object();
    for (const auto& kv : v.toGenericDict()) o[kv.key().toStringRef()] = value_to_json(kv.value(), sink);
    return o;
  }
  if (v.isObject()) return json{{"model", v.type()->str()}};
  if (is_dataset(v)) return json{{"dataset", to_dataset(v)->summary()}, {"size", to_dataset(v)->size()}};
  return json{{"unsupported", v.tagKind()}};
}

namespace {

// NumPy's type string for a dtype, little-endian.
std::string npy_descr(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "<f4";
    case at::kDouble: return "<f8";
    case at::kHalf: return "<f2";
    case at::kLong: return "<i8";
    case at::kInt: return "<i4";
    case at::kShort: return "<i2";
    case at::kChar: return "|i1";
    case at::kByte: return "|u1";
    case at::kBool: return "|b1";
    default: throw OpError(std::string(".npy has no type for ") + dtype_name(t) + "; convert it first");
  }
}

}  // namespace

std::string tensor_to_npy(const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  std::string shape;
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 || i + 1 < t.dim() ? "," : "");
  std::string header = "{'descr': '" + npy_descr(t.scalar_type()) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Format 1.0: magic, version, uint16 header length; data starts 64-byte aligned.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

namespace {

std::string csv_cell(const Value& v) {
  std::string s;
  if (v.isString()) s = v.toStringRef();
  else if (v.isTensor()) s = value_to_json(v).dump();
  else s = value_to_json(v).dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// A column as cells: a 1-D tensor, or a list of scalars/strings.
std::vector<std::string> csv_column(const std::string& name, const Value& v) {
  std::vector<std::string> cells;
  if (v.isTensor()) {
    at::Tensor t = v.toTensor().detach().to(at::kCPU);
    if (t.dim() != 1) throw OpError("table column '" + name + "' must be one-dimensional, found " + describe(v));
    for (int64_t i = 0; i < t.size(0); ++i) cells.push_back(csv_cell(Value(t[i])));
  } else if (v.isList()) {
    for (const auto& it : v.toListRef()) cells.push_back(csv_cell(it));
  } else {
    throw OpError("table column '" + name + "' must be a tensor or a list, found " + describe(v));
  }
  return cells;
}

}  // namespace

std::string table_to_csv(const Value& v) {
  std::string out;
  if (v.isTensor()) {  // a matrix: rows without a header
    at::Tensor t = v.toTensor().detach().to(at::kCPU);
    if (t.dim() == 1) t = t.unsqueeze(1);
    if (t.dim() != 2) throw OpError("only 1-D and 2-D tensors can be written as CSV, found " + describe(v));
    for (int64_t r = 0; r < t.size(0); ++r) {
      for (int64_t c = 0; c < t.size(1); ++c) out.append(c ? "," : "").append(csv_cell(Value(t[r][c])));
      out += "\n";
    }
    return out;
  }
  if (!v.isGenericDict()) throw OpError("CSV needs a table (a record of equal-length columns), found " + describe(v));
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> cols;
  for (const auto& kv : v.toGenericDict()) {
    names.push_back(kv.key().toStringRef());
    cols.push_back(csv_column(names.back(), kv.value()));
    if (cols.back().size() != cols.front().size())
      throw OpError("table columns differ in length: '" + names.front() + "' has " +
                    std::to_string(cols.front().size()) + " rows, '" + names.back() + "' has " +
                    std::to_string(cols.back().size()));
  }
  for (size_t c = 0; c < names.size(); ++c) out.append(c ? "," : "").append(csv_cell(Value(names[c])));
  out += "\n";
  size_t rows = cols.empty() ? 0 : cols.front().size();
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols.size(); ++c) out += (c ? "," : "") + cols[c][r];
    out += "\n";
  }
  return out;
}

std::string encode_value_file(const Value& value, const std::string& file_name) {
  // A dataset is written as what it holds: a record of its fields.
  const Value v = is_dataset(value) ? to_dataset(value)->materialize() : value;
  std::string ext = std::filesystem::path(file_name).extension().string();
  if (ext == ".npy") {
    if (!v.isTensor()) throw OpError("only a tensor can be saved as .npy, found " + describe(v));
    return tensor_to_npy(v.toTensor());
  }
  if (ext == ".csv") return table_to_csv(v);
  if (ext == ".png") {
    if (!v.isTensor()) throw OpError("only an image tensor can be saved as .png, found " + describe(v));
    return tensor_to_png(v.toTensor());
  }
  if (ext == ".pt2") {
    if (!v.isObject() || !is_exported_program(torch::jit::Module(v.toObject())))
      throw OpError("only a model loaded from a .pt2 file (torch.export) saves as .pt2, found " + describe(v) +
                    (v.isObject() ? " (a TorchScript model: save it as .pt)" : ""));
    torch::jit::Module m(v.toObject());
    // An output= wrapper's program is its `model`; the choice of output is
    // pipette's, not the program's.
    return pt2::write_pt2(pt2::is_exported(m) ? m : m.attr("model").toModule());
  }
  if (ext == ".pt" || ext == ".pth") {
    if (v.isObject() && is_exported_program(torch::jit::Module(v.toObject())))
      throw OpError("a model from torch.export saves as .pt2 (torch.export.load opens it); as .pt it would be "
                    "a TorchScript file that Python cannot open");
    if (v.isObject()) {
      // A model: TorchScript archive for torch.jit.load.
      std::ostringstream ss;
      torch::jit::Module(v.toObject()).save(ss);
      return ss.str();
    }
    Value cpu = v;
    if (v.isTensor()) cpu = Value(v.toTensor().detach().to(at::kCPU));
    std::vector<char> bytes = torch::jit::pickle_save(cpu);
    return std::string(bytes.begin(), bytes.end());
  }
  if (ext == ".json") return value_to_json(v).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  throw OpError("cannot save to '" + std::filesystem::path(file_name).filename().string() +
                "': supported extensions are .pt, .pt2 (models from torch.export), .json, .npy, .csv and .png");
}

void write_value_file(const Value& v, const std::filesystem::path& path) {
  write_file_atomically(path, encode_value_file(v, path.filename().string()));
}

Value read_pt_file(const std::filesystem::path& path) {
  // pipette's own reader first: it reads state_dicts (OrderedDicts, which
  // LibTorch's unpickler turns into None) and the legacy format; LibTorch's
  // for whatever else torch::pickle_save wrote.
  try {
    return read_torch_save_file(path);
  } catch (const OpError& ours) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    try {
      Value v = torch::jit::pickle_load(bytes);
      if (!v.isNone()) return v;
    } catch (const std::exception&) {
    }
    throw;
  }
}

}  // namespace pipette
