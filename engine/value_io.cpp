#include "engine/value_io.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>

#include <fstream>
#include <sstream>
#include <unistd.h>

#include "engine/op_impl.hpp"

namespace pipette {

namespace {

using json = nlohmann::ordered_json;

json tensor_values(const at::Tensor& t) {
  if (t.dim() == 0) {
    if (t.is_floating_point()) return t.item<double>();
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
  if (v.isDouble()) return v.toDouble();
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
  return json{{"unsupported", v.tagKind()}};
}

void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw OpError("cannot write '" + path.string() + "'");
    }
  }
  std::filesystem::rename(tmp, path);
}

void write_value_file(const Value& v, const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  if (ext == ".pt" || ext == ".pth") {
    if (v.isObject()) {
      // A model: TorchScript archive for torch.jit.load.
      std::ostringstream ss;
      torch::jit::Module(v.toObject()).save(ss);
      write_file_atomically(path, ss.str());
      return;
    }
    Value cpu = v;
    if (v.isTensor()) cpu = Value(v.toTensor().detach().to(at::kCPU));
    std::vector<char> bytes = torch::jit::pickle_save(cpu);
    write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
    return;
  }
  if (ext == ".json") {
    write_file_atomically(path, value_to_json(v).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    return;
  }
  throw OpError("cannot save to '" + path.filename().string() + "': supported extensions are .pt and .json" +
                (ext == ".png" ? " (PNG images arrive with the viz ops)" : ""));
}

Value read_pt_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  try {
    return torch::jit::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw OpError("'" + path.string() + "' is not a tensor file torch.save wrote: " + e.what_without_backtrace());
  }
}

}  // namespace pipette
