#include "engine/pt2_module.hpp"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/custom_class.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>

#include "engine/identifier.hpp"
#include "engine/op_impl.hpp"
#include "engine/pt2_program.hpp"

namespace pipette::pt2 {

using json = nlohmann::json;

namespace {

// The interpreter a loaded module holds. Pickled (for the run cache and
// clones) as the file name and model.json's text; parsing the same text twice
// gives the one shared Program.
struct ProgramHolder : torch::CustomClassHolder {
  std::string file;
  std::shared_ptr<const std::string> text;
  std::shared_ptr<const Program> program;

  std::vector<at::Tensor> run(std::vector<at::Tensor> state, std::vector<at::Tensor> inputs, bool hooked,
                              std::string prefix) {
    return run_program(*program, state, inputs, hooked, prefix);
  }
};

c10::intrusive_ptr<ProgramHolder> holder_for(const std::string& file, const std::string& text) {
  static std::mutex lock;
  static std::map<size_t, std::pair<std::weak_ptr<const std::string>, std::weak_ptr<const Program>>> parsed;
  auto h = c10::make_intrusive<ProgramHolder>();
  h->file = file;
  size_t key = std::hash<std::string>{}(text);
  {
    std::lock_guard<std::mutex> guard(lock);
    for (auto e = parsed.begin(); e != parsed.end();) e = e->second.second.expired() ? parsed.erase(e) : std::next(e);
    auto it = parsed.find(key);
    if (it != parsed.end()) {
      auto t = it->second.first.lock();
      auto p = it->second.second.lock();
      if (t && p && *t == text) {
        h->text = t;
        h->program = p;
        return h;
      }
    }
  }
  h->text = std::make_shared<const std::string>(text);
  h->program = parse_program(text, file);
  std::lock_guard<std::mutex> guard(lock);
  parsed[key] = {h->text, h->program};
  return h;
}

const auto holder_class =
    torch::class_<ProgramHolder>("pipette", "ExportedProgram")
        .def("run", &ProgramHolder::run)
        .def_pickle(
            [](const c10::intrusive_ptr<ProgramHolder>& h) { return std::vector<std::string>{h->file, *h->text}; },
            [](std::vector<std::string> state) {
              if (state.size() != 2) throw OpError("a pickled ExportedProgram holds its file and program");
              return holder_for(state[0], state[1]);
            });

constexpr const char* kProgramAttr = "pt2_program";
constexpr const char* kHookedAttr = "pt2_hooked";
constexpr const char* kPrefixAttr = "pt2_site_prefix";
constexpr const char* kOutputsLocal = "pt2_outputs";

std::string record(caffe2::serialize::PyTorchStreamReader& r, const std::string& name) {
  auto [data, size] = r.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int64_t sym_int(const json& s) {
  if (s.contains("as_int")) return s["as_int"].get<int64_t>();
  // A symbolic size of a weight: its hint is the size it has.
  return s.at("as_expr").at("hint").at("as_int").get<int64_t>();
}

// The archive's tensors (weights or constants) by name, aliasing kept: names
// whose payload is one file are views of one storage (tied weights stay tied).
std::map<std::string, at::Tensor> read_payload(caffe2::serialize::PyTorchStreamReader& r, const std::string& dir,
                                               const std::string& config_name, const std::string& file) {
  std::map<std::string, at::Tensor> out;
  if (!r.hasRecord(dir + config_name)) return out;
  json config = json::parse(record(r, dir + config_name));
  std::map<std::string, at::Tensor> flat;
  static const std::map<int64_t, c10::ScalarType> dtypes = {
      {1, c10::kByte}, {2, c10::kChar}, {3, c10::kShort}, {4, c10::kInt}, {5, c10::kLong}, {6, c10::kHalf},
      {7, c10::kFloat}, {8, c10::kDouble}, {9, c10::kComplexHalf}, {10, c10::kComplexFloat},
      {11, c10::kComplexDouble}, {12, c10::kBool}, {13, c10::kBFloat16}};
  for (auto& [name, meta] : config.at("config").items()) {
    if (meta.value("use_pickle", false))
      throw OpError("'" + file + "': its tensor '" + name +
                    "' is a pickled tensor subclass (a quantized or distributed tensor, or a custom class); "
                    "pipette reads plain tensors");
    const json& tm = meta.at("tensor_meta");
    auto dt = dtypes.find(tm.at("dtype").get<int64_t>());
    if (dt == dtypes.end())
      throw OpError("'" + file + "': the tensor '" + name + "' has a dtype pipette does not read (serde number " +
                    std::to_string(tm.at("dtype").get<int64_t>()) + ")");
    if (tm.value("layout", 7) != 7)
      throw OpError("'" + file + "': the tensor '" + name + "' is sparse; pipette reads strided tensors");
    std::string path = meta.at("path_name");
    auto f = flat.find(path);
    if (f == flat.end()) {
      auto [data, size] = r.getRecord(dir + path);
      int64_t item = static_cast<int64_t>(c10::elementSize(dt->second));
      if (size % static_cast<size_t>(item))
        throw OpError("'" + file + "': the payload " + path + " of '" + name + "' holds " + std::to_string(size) +
                      " bytes, not a whole number of " + c10::toString(dt->second) + " elements; the archive is damaged");
      at::Tensor t = at::empty({static_cast<int64_t>(size) / item}, at::TensorOptions().dtype(dt->second));
      if (size) std::memcpy(t.data_ptr(), data.get(), size);
      f = flat.emplace(path, t).first;
    }
    std::vector<int64_t> sizes, strides;
    for (const json& s : tm.at("sizes")) sizes.push_back(sym_int(s));
    for (const json& s : tm.at("strides")) strides.push_back(sym_int(s));
    int64_t offset = sym_int(tm.at("storage_offset"));
    // A damaged or hostile archive must not make a view past its payload.
    at::Tensor storage = f->second.scalar_type() == dt->second ? f->second : f->second.view(dt->second);
    int64_t last = offset;
    bool empty = false;
    for (size_t d = 0; d < sizes.size() && d < strides.size(); ++d) {
      if (sizes[d] < 0 || strides[d] < 0) last = -1;
      if (sizes[d] == 0) empty = true;
      else last += (sizes[d] - 1) * strides[d];
    }
    if (sizes.size() != strides.size() || offset < 0 || last < 0 || (!empty && last >= storage.numel()))
      throw OpError("'" + file + "': the tensor '" + name + "' does not fit its payload " + path + " (" +
                    std::to_string(storage.numel()) + " elements); the archive is damaged");
    at::Tensor t = storage.as_strided(sizes, strides, offset).detach();
    if (meta.value("is_param", false)) t.requires_grad_(tm.value("requires_grad", true));
    out[name] = t;
  }
  return out;
}

std::string class_name(const std::string& file) {
  std::string stem = std::filesystem::path(file).stem().string(), out;
  for (char c : stem) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "m" + out;
  return out;
}

torch::jit::Module new_module(const std::string& name, const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  torch::jit::Module m(c10::QualifiedName("__torch__.pipette_pt2." + name), cu, /*shouldMangle=*/true);
  // Modes are baked into an exported program (dropout as exported): eval
  // and train change nothing, so the flag says what it runs as.
  m.register_attribute("training", c10::BoolType::get(), false);
  return m;
}

// `getattr(getattr(self, "features"), "0")`: TorchScript for a path.
std::string access(const std::string& path) {
  std::string expr = "self";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    // Python attribute names, or Sequential's "0": nothing that could leave the string literal.
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!is_identifier(part) && !digits)
      throw OpError("the tensor path '" + path + "' has a part that is not a Python name: '" + excerpt(part, 40) + "'");
    expr = "getattr(" + expr + ", \"" + part + "\")";
    start = end + 1;
  }
  return expr;
}

int serde_dtype(c10::ScalarType t) {
  switch (t) {
    case c10::kByte: return 1;
    case c10::kChar: return 2;
    case c10::kShort: return 3;
    case c10::kInt: return 4;
    case c10::kLong: return 5;
    case c10::kHalf: return 6;
    case c10::kFloat: return 7;
    case c10::kDouble: return 8;
    case c10::kComplexHalf: return 9;
    case c10::kComplexFloat: return 10;
    case c10::kComplexDouble: return 11;
    case c10::kBool: return 12;
    case c10::kBFloat16: return 13;
    default: throw OpError(std::string("cannot write a ") + c10::toString(t) + " tensor to a .pt2 archive");
  }
}

json sym_ints(c10::IntArrayRef v) {
  json out = json::array();
  for (int64_t x : v) out.push_back({{"as_int", x}});
  return out;
}

// The tensor at a dotted path of `m` (a parameter or buffer).
at::Tensor tensor_at(const torch::jit::Module& m, const std::string& path) {
  torch::jit::Module owner = m;
  size_t start = 0, dot;
  while ((dot = path.find('.', start)) != std::string::npos) {
    owner = owner.attr(path.substr(start, dot - start)).toModule();
    start = dot + 1;
  }
  return owner.attr(path.substr(start)).toTensor();
}

}  // namespace

std::string write_pt2(const torch::jit::Module& m) {
  auto holder = m.attr(kProgramAttr).toCustomClass<ProgramHolder>();
  const Program& p = *holder->program;
  std::string bytes;
  caffe2::serialize::PyTorchStreamWriter w([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  auto put = [&](const std::string& name, const std::string& content) {
    w.writeRecord(name, content.data(), content.size());
  };
  put("archive_format", "pt2");
  put("archive_version", "0");
  put("byteorder", "little");
  put("models/model.json", *holder->text);
  // torch.export.load reads the example inputs' record; empty means none.
  put("data/sample_inputs/model.pt", "");
  json weights = {{"config", json::object()}}, constants = {{"config", json::object()}};
  // Tensors that are the same view of one storage (tied weights) share a
  // file, as torch.export.save writes them; any other view gets its own.
  std::map<std::string, std::string> files;
  int next_weight = 0, next_constant = 0;
  at::NoGradGuard no_grad;
  for (const StateTensor& s : p.state) {
    at::Tensor live = tensor_at(m, s.name);
    at::Tensor t = live.detach().to(at::kCPU).contiguous();
    bool weight = s.kind == StateTensor::Kind::Parameter || (s.kind == StateTensor::Kind::Buffer && s.persistent);
    std::string key = fmt::format("{}|{}|{}|{}|{}|{}", fmt::ptr(live.data_ptr()), c10::toString(live.scalar_type()),
                                  fmt::join(live.sizes(), ","), fmt::join(live.strides(), ","), live.storage_offset(),
                                  weight);
    std::string dir = weight ? "data/weights/" : "data/constants/";
    std::string path_name;
    if (auto f = files.find(key); f != files.end()) {
      path_name = f->second;
    } else {
      path_name = weight ? "weight_" + std::to_string(next_weight++) : "tensor_" + std::to_string(next_constant++);
      put(dir + path_name, std::string(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size()));
      files[key] = path_name;
    }
    json meta = {{"dtype", serde_dtype(t.scalar_type())},
                 {"sizes", sym_ints(t.sizes())},
                 {"requires_grad", s.kind == StateTensor::Kind::Parameter && live.requires_grad()},
                 {"device", {{"type", "cpu"}, {"index", nullptr}}},
                 {"strides", sym_ints(t.strides())},
                 {"storage_offset", {{"as_int", 0}}},
                 {"layout", 7}};
    (weight ? weights : constants)["config"][s.name] = {{"path_name", path_name},
                                                        {"is_param", s.kind == StateTensor::Kind::Parameter},
                                                        {"use_pickle", false},
                                                        {"tensor_meta", meta}};
  }
  put("data/weights/model_weights_config.json", weights.dump());
  put("data/constants/model_constants_config.json", constants.dump());
  w.writeEndOfFile();
  return bytes;
}

bool is_pt2_archive(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader r(path);
    return r.hasRecord("archive_format") && trim(record(r, "archive_format")) == "pt2";
  } catch (const std::exception&) {
    return false;
  }
}

torch::jit::Module load_pt2(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw OpError("cannot read '" + path + "' as a torch.export archive: " + excerpt(e.what_without_backtrace(), 300));
  }
  auto& r = *reader;
  std::string version = r.hasRecord("archive_version") ? trim(record(r, "archive_version")) : "";
  if (version != "0")
    throw OpError("'" + path + "' is a pt2 archive of version " + (version.empty() ? "(none)" : version) +
                  "; pipette reads version 0 (torch.export.save in torch 2.11)");
  std::vector<std::string> models;
  for (const std::string& rec : r.getAllRecords())
    if (rec.rfind("models/", 0) == 0 && rec.size() > 12 && rec.compare(rec.size() - 5, 5, ".json") == 0)
      models.push_back(rec.substr(7, rec.size() - 12));
  if (models.empty()) {
    bool aoti = false;
    for (const std::string& rec : r.getAllRecords()) aoti |= rec.rfind("data/aotinductor/", 0) == 0;
    throw OpError("'" + path + "' holds no exported program" +
                  (aoti ? ": it is an AOTInductor package (compiled for inference, no gradients); save the "
                          "ExportedProgram itself with torch.export.save(ep, path)"
                        : std::string()));
  }
  std::string name = models.size() == 1 ? models[0] : "model";
  if (std::find(models.begin(), models.end(), name) == models.end())
    throw OpError("'" + path + "' holds several programs (" + fmt::format("{}", fmt::join(models, ", ")) +
                  "); pipette reads one: save one ExportedProgram per file");
  auto holder = holder_for(path, record(r, "models/" + name + ".json"));
  const Program& p = *holder->program;
  auto weights = read_payload(r, "data/weights/", name + "_weights_config.json", path);
  auto constants = read_payload(r, "data/constants/", name + "_constants_config.json", path);

  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module root = new_module(class_name(path), cu);
  std::string state;
  for (const StateTensor& s : p.state) {
    at::Tensor t;
    if (auto w = weights.find(s.name); w != weights.end()) t = w->second;
    else if (auto c = constants.find(s.name); c != constants.end()) t = c->second;
    else throw OpError("'" + path + "': the program reads '" + s.name + "', which the archive does not hold");
    // Submodules by the path's prefix, so that named_parameters() is Python's.
    torch::jit::Module owner = root;
    size_t start = 0, dot;
    while ((dot = s.name.find('.', start)) != std::string::npos) {
      std::string part = s.name.substr(start, dot - start);
      if (auto sub = owner.attr(part, c10::IValue()); sub.isObject()) {
        owner = torch::jit::Module(sub.toObject());
      } else {
        torch::jit::Module child = new_module("Module", cu);
        owner.register_module(part, child);
        owner = child;
      }
      start = dot + 1;
    }
    std::string leaf = s.name.substr(start);
    if (s.kind == StateTensor::Kind::Parameter) {
      owner.register_parameter(leaf, t, /*is_buffer=*/false);
    } else {
      owner.register_buffer(leaf, t);
    }
    state += (state.empty() ? "" : ", ") + access(s.name);
  }
  auto type = torch::getCustomClass("__torch__.torch.classes.pipette.ExportedProgram");
  root.register_attribute(kProgramAttr, type, c10::IValue(holder));
  root.register_attribute(kHookedAttr, c10::BoolType::get(), false);
  root.register_attribute(kPrefixAttr, c10::StringType::get(), std::string());

  std::string args, inputs;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    // forward's own argument names where they are plain names (signature_of
    // shows them in messages); never one the generated code uses itself.
    std::string n = "input_" + std::to_string(i);
    if (i < p.forward_arg_names.size() && is_identifier(p.forward_arg_names[i]) && p.forward_arg_names[i] != "self" &&
        p.forward_arg_names[i] != kOutputsLocal && p.forward_arg_names[i].rfind("input_", 0) != 0)
      n = p.forward_arg_names[i];
    args += ", " + n;
    inputs += (i ? ", " : "") + n;
  }
  std::string ret;
  auto item = [](size_t i) { return std::string(kOutputsLocal) + "[" + std::to_string(i) + "]"; };
  size_t n_out = p.outputs.user.size();
  switch (p.outputs.kind) {
    case Outputs::Kind::Tensor: ret = item(0); break;
    case Outputs::Kind::Tuple:
    case Outputs::Kind::List: {
      for (size_t i = 0; i < n_out; ++i) ret += (i ? ", " : "") + item(i);
      ret = p.outputs.kind == Outputs::Kind::List ? "[" + ret + "]" : "(" + ret + (n_out == 1 ? ",)" : ")");
      break;
    }
    case Outputs::Kind::Dict: {
      for (size_t i = 0; i < n_out && i < p.outputs.keys.size(); ++i)
        ret += (i ? ", " : "") + json(p.outputs.keys[i]).dump() + ": " + item(i);
      ret = "{" + ret + "}";
      break;
    }
  }
  std::string hint = "[" + state + "]";
  root.define("def forward(self" + args + "):\n    " + kOutputsLocal + " = self." + kProgramAttr + ".run(" +
              (state.empty() ? "torch.jit.annotate(List[Tensor], [])" : hint) + ", [" + inputs + "], self." + kHookedAttr +
              ", self." + kPrefixAttr + ")\n    return " + ret + "\n");
  return root;
}

bool is_exported(const torch::jit::Module& m) {
  return m.hasattr(kProgramAttr) && m.hasattr(kHookedAttr) && m.hasattr(kPrefixAttr);
}

std::vector<HookSiteInfo> exported_sites(const torch::jit::Module& m) {
  return m.attr(kProgramAttr).toCustomClass<ProgramHolder>()->program->sites;
}

std::string exported_training_op(const torch::jit::Module& m) {
  return m.attr(kProgramAttr).toCustomClass<ProgramHolder>()->program->training_op;
}

std::string exported_summary(const torch::jit::Module& m) {
  const Program& p = *m.attr(kProgramAttr).toCustomClass<ProgramHolder>()->program;
  size_t nodes = 0;
  for (const Graph& g : p.graphs)
    for (const Step& s : g.steps) nodes += s.kind != Step::Kind::Site;
  return "exported by torch " + p.torch_version + ", export schema " + p.schema_version + ", " +
         std::to_string(nodes) + " nodes, " + std::to_string(p.sites.size()) + " hook points";
}

void enable_sites(torch::jit::Module& m, const std::string& prefix) {
  m.setattr(kHookedAttr, true);
  m.setattr(kPrefixAttr, prefix);
}

}  // namespace pipette::pt2
