// model.json (torch/_export/serde/schema.py) -> pt2::Program.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/op_impl.hpp"
#include "engine/pt2_program.hpp"
#include "engine/run_report.hpp"

namespace pipette::pt2 {

using json = nlohmann::json;

namespace {

// serde's ScalarType numbering -> c10's.
c10::ScalarType scalar_type(int64_t serde, const std::string& where) {
  switch (serde) {
    case 1: return c10::kByte;
    case 2: return c10::kChar;
    case 3: return c10::kShort;
    case 4: return c10::kInt;
    case 5: return c10::kLong;
    case 6: return c10::kHalf;
    case 7: return c10::kFloat;
    case 8: return c10::kDouble;
    case 9: return c10::kComplexHalf;
    case 10: return c10::kComplexFloat;
    case 11: return c10::kComplexDouble;
    case 12: return c10::kBool;
    case 13: return c10::kBFloat16;
    default:
      throw OpError(fmt::format("{}: dtype number {} (uint16 or a float8) is not one pipette runs", where, serde));
  }
}

int64_t memory_format(int64_t serde, const std::string& where) {
  switch (serde) {
    case 1: return static_cast<int64_t>(c10::MemoryFormat::Contiguous);
    case 2: return static_cast<int64_t>(c10::MemoryFormat::ChannelsLast);
    case 3: return static_cast<int64_t>(c10::MemoryFormat::ChannelsLast3d);
    case 4: return static_cast<int64_t>(c10::MemoryFormat::Preserve);
    default: throw OpError(fmt::format("{}: unknown memory format {}", where, serde));
  }
}

int64_t layout(int64_t serde, const std::string& where) {
  if (serde == 7) return static_cast<int64_t>(c10::kStrided);
  throw OpError(fmt::format("{}: a sparse or mkldnn layout (serde {}) is not one pipette runs", where, serde));
}

c10::Device device_of(const json& d) {
  std::string type = d.at("type").get<std::string>();
  if (!d.contains("index") || d.at("index").is_null()) return c10::Device(type);
  return c10::Device(type + ":" + std::to_string(d.at("index").get<int64_t>()));
}

double float_of(const json& v) {
  // JSON has no inf or nan: serde writes them as strings.
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    throw OpError("a float written as '" + s + "'");
  }
  return v.get<double>();
}

// The last frame of a node's Python stack trace that is the user's code
// (not torch's own modules), or the trace's first line.
std::string user_frame(const std::string& trace) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < trace.size()) {
    size_t end = trace.find('\n', start);
    if (end == std::string::npos) end = trace.size();
    lines.push_back(trace.substr(start, end - start));
    start = end + 1;
  }
  std::string best;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string l = lines[i];
    l.erase(0, l.find_first_not_of(' '));
    if (l.rfind("File \"", 0) != 0) continue;
    if (l.find("site-packages/torch/") != std::string::npos || l.find("/torch/nn/") != std::string::npos) continue;
    std::string code = i + 1 < lines.size() ? lines[i + 1] : std::string();
    code.erase(0, code.find_first_not_of(' '));
    best = l + (code.empty() || code.rfind("File \"", 0) == 0 ? std::string() : ": " + code);
  }
  return best.empty() && !lines.empty() ? lines[0] : best;
}

// "as_sym_int" -> "sym_int": an encoding's kind, for messages.
std::string kind_name(const json& j) {
  if (!j.is_object() || j.empty()) return "(none)";
  std::string k = j.begin().key();
  return k.rfind("as_", 0) == 0 ? k.substr(3) : k;
}

// Splits at `sep` outside brackets and parentheses, as torch's
// metadata_split does: a strict export's paths hold commas
// ("getattr(L['self'].layers, '0')").
std::vector<std::string> split_outside_brackets(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (char c : s) {
    if (c == '[' || c == '(') ++depth;
    if ((c == ']' || c == ')') && depth > 0) --depth;
    if (c == sep && depth == 0) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// "L__self__,,__main__.M;L__self___fc1,fc1,torch.nn.modules.linear.Linear"
struct ModuleCall {
  std::string key, path, type;
};
std::vector<ModuleCall> module_stack(const std::string& meta) {
  std::vector<ModuleCall> out;
  for (const std::string& entry : split_outside_brackets(meta, ';')) {
    std::vector<std::string> f = split_outside_brackets(entry, ',');
    if (f.size() != 3) continue;
    ModuleCall c{f[0], f[1], f[2]};
    // "torch.nn.modules.linear.Linear" -> "Linear", as hooked() names types.
    c.type = c.type.substr(c.type.rfind('.') + 1);
    out.push_back(std::move(c));
  }
  return out;
}

class Parser {
 public:
  Parser(Program& p) : p_(p) {}

  // Parses `g` into p_.graphs[index]; `names` is the scope (subgraphs have their own).
  void graph(const json& g, int index, bool top) {
    std::unordered_map<std::string, int> names;
    // By index, not by reference: a subgraph argument adds to p_.graphs.
    auto slot = [&](const std::string& name, bool tensor) {
      int s = p_.graphs[index].slots++;
      p_.graphs[index].tensor.push_back(tensor);
      names[name] = s;
      return s;
    };
    for (const json& in : g.at("inputs")) {
      if (in.contains("as_tensor")) p_.graphs[index].inputs.push_back(slot(in.at("as_tensor").at("name"), true));
      else if (in.contains("as_sym_int")) p_.graphs[index].inputs.push_back(slot(in.at("as_sym_int").at("as_name"), false));
      else if (in.contains("as_sym_float")) p_.graphs[index].inputs.push_back(slot(in.at("as_sym_float").at("as_name"), false));
      else if (in.contains("as_sym_bool")) p_.graphs[index].inputs.push_back(slot(in.at("as_sym_bool").at("as_name"), false));
      else if (in.contains("as_custom_obj"))
        throw OpError(where() + ": the program takes a custom object (a TorchBind class); pipette runs tensors only");
      else if (in.contains("as_token"))
        throw OpError(where() + ": the program has effect tokens (an op with side effects); pipette cannot run them");
      else
        p_.graphs[index].inputs.push_back(slot("__unused_input_" + std::to_string(p_.graphs[index].inputs.size()), false));
    }
    for (const json& n : g.at("nodes")) {
      Step st = step(n, names, index);
      // Outputs get their slots after the inputs are resolved.
      for (const json& o : n.at("outputs")) {
        if (o.contains("as_tensor")) st.outputs.push_back(slot(o.at("as_tensor").at("name"), true));
        else if (o.contains("as_tensors")) {
          for (const json& t : o.at("as_tensors")) st.outputs.push_back(slot(t.at("name"), true));
          if (st.kind == Step::Kind::Op) st.list_output = true;
        } else if (o.contains("as_sym_int")) st.outputs.push_back(slot(o.at("as_sym_int").at("as_name"), false));
        else if (o.contains("as_sym_float")) st.outputs.push_back(slot(o.at("as_sym_float").at("as_name"), false));
        else if (o.contains("as_sym_bool")) st.outputs.push_back(slot(o.at("as_sym_bool").at("as_name"), false));
        else if (o.contains("as_int") || o.contains("as_float") || o.contains("as_bool"))
          st.outputs.push_back(slot("__const_out_" + std::to_string(p_.graphs[index].slots), false));
        else if (o.contains("as_none")) st.outputs.push_back(-1);
        else if (o.contains("as_optional_tensors")) {
          for (const json& t : o.at("as_optional_tensors"))
            st.outputs.push_back(t.contains("as_tensor") ? slot(t.at("as_tensor").at("name"), true) : -1);
          if (st.kind == Step::Kind::Op) st.list_output = true;
        } else
          throw OpError(node_where(st) + ": an output of kind " + (o.empty() ? std::string("(none)") : o.begin().key()) + " is not one pipette runs");
      }
      p_.graphs[index].steps.push_back(std::move(st));
    }
    for (const json& o : g.at("outputs")) p_.graphs[index].outputs.push_back(arg(o, names, nullptr, ""));
    if (top) top_names_ = names;
  }

  std::unordered_map<std::string, int> top_names_;

 private:
  std::string where() const { return "'" + p_.file + "'"; }

  Step step(const json& n, std::unordered_map<std::string, int>& names, int graph_index) {
    Step st;
    st.target = n.at("target").get<std::string>();
    st.name = n.contains("name") && n.at("name").is_string() ? n.at("name").get<std::string>() : st.target;
    if (n.contains("metadata")) {
      const json& md = n.at("metadata");
      if (md.contains("stack_trace")) st.stack_trace = md.at("stack_trace").get<std::string>();
      if (md.contains("nn_module_stack") && graph_index == 0)
        for (const ModuleCall& c : module_stack(md.at("nn_module_stack").get<std::string>()))
          // Nodes torch.export made outside any module call carry a placeholder entry.
          if (!c.path.empty() && c.path.rfind("_empty_nn_module_stack", 0) != 0) {
            st.calls.push_back(c.key);
            calls_[c.key] = c;
          }
    }
    const json& inputs = n.at("inputs");
    const std::string& t = st.target;
    if (t == "torch.ops.higher_order.triton_kernel_wrapper_functional" ||
        t == "torch.ops.higher_order.triton_kernel_wrapper_mutation")
      throw OpError(node_where(st) + ": a Triton kernel, which pipette cannot run; export the model's eager "
                                     "PyTorch code instead of the kernel (or wrap the kernel in a C++ operator)");
    if (t.rfind("torch.ops.higher_order.", 0) == 0) return higher_order(st, inputs, names);
    if (t.rfind("_operator.", 0) == 0 || t.rfind("math.", 0) == 0 || t.rfind("torch.sym_", 0) == 0 ||
        t == "torch._sym_sqrt") {
      // By arity: what each takes, checked here so that running never reads past its arguments.
      static const std::map<std::string, size_t> arity = {
          {"_operator.neg", 1}, {"_operator.pos", 1}, {"math.trunc", 1}, {"torch.sym_not", 1}, {"torch.sym_int", 1},
          {"torch.sym_float", 1}, {"torch.sym_sqrt", 1}, {"torch._sym_sqrt", 1}, {"math.ceil", 1}, {"math.floor", 1},
          {"torch.sym_ite", 3}};
      static const std::set<std::string> known = {"torch._sym_sqrt",
          "_operator.eq", "_operator.ne", "_operator.le", "_operator.ge", "_operator.lt", "_operator.gt",
          "_operator.neg", "_operator.pos", "math.trunc", "torch.sym_not", "_operator.mul", "_operator.add",
          "_operator.sub", "_operator.floordiv", "_operator.mod", "_operator.pow", "torch.sym_int",
          "torch.sym_float", "torch.sym_ite", "torch.sym_max", "torch.sym_min", "torch.sym_sqrt",
          "_operator.truediv", "_operator.and_", "_operator.or_", "math.ceil", "math.floor"};
      if (!known.count(t)) throw OpError(node_where(st) + ": the symbolic operation " + t + " is not one pipette runs");
      st.kind = Step::Kind::Scalar;
      for (const json& in : inputs) st.args.push_back(arg(in.at("arg"), names, nullptr, node_where(st)));
      auto n = arity.find(t);
      size_t want = n == arity.end() ? 2 : n->second;
      if (st.args.size() != want)
        throw OpError(node_where(st) + ": " + t + " takes " + std::to_string(want) + " argument(s), the graph gives " +
                      std::to_string(st.args.size()));
      return st;
    }
    if (t.rfind("torch.ops.", 0) != 0)
      throw OpError(node_where(st) + ": a call of the Python function '" + t +
                    "', which only Python can run; export with torch.export.export (strict or not) so that "
                    "the graph holds operators only");
    auto name = operator_name(t);
    if (name.first == "aten::sym_size" || name.first == "aten::sym_stride" || name.first == "aten::sym_numel" ||
        name.first == "aten::sym_storage_offset") {
      st.kind = Step::Kind::TensorInt;
      for (const json& in : inputs) st.args.push_back(arg(in.at("arg"), names, nullptr, node_where(st)));
      bool dim = name.first == "aten::sym_size" || name.first == "aten::sym_stride";
      if (st.args.size() != (dim ? 2u : 1u) || st.args[0].kind != Arg::Kind::Slot)
        throw OpError(node_where(st) + ": takes a tensor" + (dim ? " and a dimension" : ""));
      return st;
    }
    if (name.first == "aten::_assert_scalar") {
      st.kind = Step::Kind::AssertScalar;
      for (const json& in : inputs) st.args.push_back(arg(in.at("arg"), names, nullptr, node_where(st)));
      if (st.args.empty()) throw OpError(node_where(st) + ": an assertion of nothing");
      return st;
    }
    if (name.first == "aten::sym_constrain_range_for_size" || name.first == "aten::sym_constrain_range") {
      st.kind = Step::Kind::ConstrainRange;
      st.args.resize(3);
      for (const json& in : inputs) {
        std::string a = in.at("name");
        int i = a == "size" ? 0 : a == "min" ? 1 : a == "max" ? 2 : -1;
        if (i >= 0) st.args[static_cast<size_t>(i)] = arg(in.at("arg"), names, nullptr, node_where(st));
      }
      return st;
    }
    if (name.first == "aten::_assert_tensor_metadata") {
      st.kind = Step::Kind::AssertMeta;
      st.args.resize(2);
      for (const json& in : inputs) {
        std::string a = in.at("name");
        if (a == "a") st.args[0] = arg(in.at("arg"), names, nullptr, node_where(st));
        if (a == "dtype") st.args[1] = arg(in.at("arg"), names, nullptr, node_where(st));
      }
      if (st.args[0].kind != Arg::Kind::Slot) throw OpError(node_where(st) + ": asserts the metadata of no tensor");
      return st;
    }
    auto op = c10::Dispatcher::singleton().findSchema({name.first, name.second});
    if (!op) {
      std::string ns = name.first.substr(0, name.first.find("::"));
      std::string full = name.first + (name.second.empty() ? "" : "." + name.second);
      if (ns == "aten" || ns == "prims")
        throw OpError(node_where(st) + ": the operator " + full + " is not in this LibTorch (" + libtorch_version() +
                      "); the file needs the one it was exported with (torch " + p_.torch_version +
                      "): bash scripts/torch2.sh builds pipette on PyPI's current LibTorch");
      throw OpError(node_where(st) + ": the custom operator " + full +
                    " is not registered in C++. A Python custom op (torch.library.custom_op) runs only in Python; "
                    "define it with TORCH_LIBRARY in a pipette plugin, or export the model without it");
    }
    st.kind = Step::Kind::Op;
    st.op = *op;
    const c10::FunctionSchema& schema = op->schema();
    std::unordered_map<std::string, const json*> given;
    for (const json& in : inputs) given[in.at("name").get<std::string>()] = &in.at("arg");
    for (const c10::Argument& a : schema.arguments()) {
      auto it = given.find(a.name());
      if (it != given.end()) {
        st.args.push_back(arg(*it->second, names, &a, node_where(st)));
        given.erase(it);
      } else if (a.default_value()) {
        Arg d;
        d.constant = *a.default_value();
        st.args.push_back(std::move(d));
      } else {
        throw OpError(node_where(st) + ": the graph gives no '" + a.name() + "' and this LibTorch's " +
                      schema.name() + " has no default for it (" + libtorch_version() +
                      " against a file from torch " + p_.torch_version + ")");
      }
    }
    for (size_t k = 0; k < schema.arguments().size(); ++k) {
      const std::string& an = schema.arguments()[k].name();
      const Arg& a = st.args[k];
      if ((an == "train" || an == "training") && a.kind == Arg::Kind::Constant && a.constant.isBool() &&
          a.constant.toBool() && p_.training_op.empty())
        p_.training_op = "node '" + st.name + "' (" + schema.name() + ")";
    }
    if (!given.empty())
      throw OpError(node_where(st) + ": this LibTorch's " + schema.name() + " has no argument '" + given.begin()->first +
                    "' (" + libtorch_version() + " against a file from torch " + p_.torch_version + ")");
    return st;
  }

  Step higher_order(Step st, const json& inputs, std::unordered_map<std::string, int>& names) {
    std::string op = st.target.substr(std::string("torch.ops.higher_order.").size());
    if (op == "cond") st.kind = Step::Kind::Cond;
    else if (op == "while_loop") st.kind = Step::Kind::WhileLoop;
    else if (op == "wrap_with_set_grad_enabled") st.kind = Step::Kind::GradEnabled;
    else if (op == "wrap_with_autocast") st.kind = Step::Kind::Autocast;
    else
      throw OpError(node_where(st) + ": the higher-order op '" + op +
                    "' is not one pipette runs (it runs cond, while_loop, wrap_with_set_grad_enabled and "
                    "wrap_with_autocast)");
    for (const json& in : inputs) st.args.push_back(arg(in.at("arg"), names, nullptr, node_where(st)));
    // Where each takes its subgraphs, and how many arguments it needs at least.
    std::vector<size_t> graphs;
    size_t least = 0;
    switch (st.kind) {
      case Step::Kind::Cond: graphs = {1, 2}; least = 4; break;
      case Step::Kind::WhileLoop: graphs = {0, 1}; least = 4; break;
      case Step::Kind::GradEnabled: graphs = {1}; least = 2; break;
      default: graphs = {4}; least = 5; break;  // Autocast
    }
    bool ok = st.args.size() >= least;
    for (size_t g : graphs) ok = ok && st.args[g].kind == Arg::Kind::Graph;
    if (st.kind == Step::Kind::WhileLoop)
      for (size_t k : {2u, 3u}) ok = ok && st.args[k].kind == Arg::Kind::TensorList;
    if (st.kind == Step::Kind::Autocast) ok = ok && st.args[0].constant.isString();
    if (!ok) throw OpError(node_where(st) + ": its arguments are not laid out as torch.export writes " + op);
    return st;
  }

 public:
  // An argument; `schema` (when known) says what the op expects, for the
  // encodings serde shares between types (an int where a float goes).
  Arg arg(const json& a, std::unordered_map<std::string, int>& names, const c10::Argument* schema,
          const std::string& where) {
    Arg out = parse_arg(a, names, schema, where);
    bool wants_tensor = schema && schema->type()->kind() == c10::TypeKind::TensorType;
    if (wants_tensor && (out.kind == Arg::Kind::Slot || out.kind == Arg::Kind::Constant)) {
      const std::string kind = a.begin().key();
      if (kind == "as_int" || kind == "as_float" || kind == "as_bool" || kind == "as_sym_int" ||
          kind == "as_sym_float" || kind == "as_sym_bool")
        out.wrap_number = true;
    }
    return out;
  }

  Arg parse_arg(const json& a, std::unordered_map<std::string, int>& names, const c10::Argument* schema,
                const std::string& where) {
    Arg out;
    if (a.size() != 1) throw OpError(where + ": an argument with " + std::to_string(a.size()) + " encodings");
    const std::string kind = a.begin().key();
    const json& v = a.begin().value();
    auto lookup = [&](const std::string& name) {
      auto it = names.find(name);
      if (it == names.end()) throw OpError(where + ": reads '" + name + "', which no earlier node makes");
      return it->second;
    };
    auto slot_arg = [&](int s) {
      out.kind = Arg::Kind::Slot;
      out.slot = s;
      return out;
    };
    c10::TypePtr type = schema ? schema->type() : nullptr;
    bool wants_float = type && type->kind() == c10::TypeKind::FloatType;
    bool wants_optional_tensors = false;
    if (type)
      if (auto list = type->cast<c10::ListType>())
        wants_optional_tensors = list->getElementType()->kind() == c10::TypeKind::OptionalType;

    if (kind == "as_none") return out;
    if (kind == "as_tensor") return slot_arg(lookup(v.at("name")));
    if (kind == "as_tensors" || kind == "as_optional_tensors") {
      out.kind = kind == "as_tensors" && !wants_optional_tensors ? Arg::Kind::TensorList : Arg::Kind::OptionalTensorList;
      for (const json& t : v) {
        if (kind == "as_tensors") out.slots.push_back(lookup(t.at("name")));
        else out.slots.push_back(t.contains("as_tensor") ? lookup(t.at("as_tensor").at("name")) : -1);
      }
      return out;
    }
    if (kind == "as_optional_tensor") {
      if (v.contains("as_tensor")) return slot_arg(lookup(v.at("as_tensor").at("name")));
      return out;
    }
    if (kind == "as_int") {
      out.constant = wants_float ? c10::IValue(static_cast<double>(v.get<int64_t>())) : c10::IValue(v.get<int64_t>());
      return out;
    }
    if (kind == "as_float") {
      out.constant = float_of(v);
      return out;
    }
    if (kind == "as_bool") {
      out.constant = v.get<bool>();
      return out;
    }
    if (kind == "as_string") {
      out.constant = v.get<std::string>();
      return out;
    }
    if (kind == "as_complex") {
      out.constant = c10::complex<double>(float_of(v.at("real")), float_of(v.at("imag")));
      return out;
    }
    if (kind == "as_ints") {
      out.constant = c10::List<int64_t>(v.get<std::vector<int64_t>>());
      return out;
    }
    if (kind == "as_floats") {
      std::vector<double> fs;
      for (const json& f : v) fs.push_back(float_of(f));
      out.constant = c10::List<double>(fs);
      return out;
    }
    if (kind == "as_bools") {
      c10::List<bool> bs;
      for (const json& b : v) bs.push_back(b.get<bool>());
      out.constant = bs;
      return out;
    }
    if (kind == "as_strings") {
      c10::List<std::string> ss;
      for (const json& s : v) ss.push_back(s.get<std::string>());
      out.constant = ss;
      return out;
    }
    if (kind == "as_sym_int" || kind == "as_sym_float" || kind == "as_sym_bool") {
      if (v.contains("as_name")) return slot_arg(lookup(v.at("as_name")));
      if (v.contains("as_int")) out.constant = v.at("as_int").get<int64_t>();
      else if (v.contains("as_float")) out.constant = float_of(v.at("as_float"));
      else if (v.contains("as_bool")) out.constant = v.at("as_bool").get<bool>();
      return out;
    }
    if (kind == "as_sym_ints" || kind == "as_sym_floats" || kind == "as_sym_bools") {
      out.kind = Arg::Kind::ScalarList;
      out.scalar = kind == "as_sym_ints" ? 'i' : kind == "as_sym_floats" ? 'f' : 'b';
      for (const json& e : v) {
        if (e.contains("as_name")) {
          out.slots.push_back(lookup(e.at("as_name")));
          out.items.emplace_back();
        } else {
          out.slots.push_back(-1);
          if (e.contains("as_int")) out.items.emplace_back(e.at("as_int").get<int64_t>());
          else if (e.contains("as_float")) out.items.emplace_back(float_of(e.at("as_float")));
          else out.items.emplace_back(e.at("as_bool").get<bool>());
        }
      }
      return out;
    }
    if (kind == "as_scalar_type") {
      out.constant = static_cast<int64_t>(scalar_type(v.get<int64_t>(), where));
      return out;
    }
    if (kind == "as_memory_format") {
      out.constant = memory_format(v.get<int64_t>(), where);
      return out;
    }
    if (kind == "as_layout") {
      out.constant = layout(v.get<int64_t>(), where);
      return out;
    }
    if (kind == "as_device") {
      out.kind = Arg::Kind::Device;
      out.constant = device_of(v);
      return out;
    }
    if (kind == "as_graph") {
      out.kind = Arg::Kind::Graph;
      out.graph = static_cast<int>(p_.graphs.size());
      p_.graphs.emplace_back();
      graph(v.at("graph"), out.graph, false);
      return out;
    }
    if (kind == "as_custom_obj")
      throw OpError(where + ": takes a custom object (a TorchBind class " + v.value("class_fqn", std::string()) +
                    "); pipette runs tensors only");
    throw OpError(where + ": an argument of kind " + kind + ", which pipette does not run");
  }

  std::unordered_map<std::string, ModuleCall> calls_;

 private:
  Program& p_;
};

// Frees each slot after the last step that reads it (the graph's outputs
// stay). A step's subgraphs read their own slots, not the caller's.
void plan_release(Graph& g) {
  std::vector<int> last(static_cast<size_t>(g.slots), -1);
  auto reads = [](const Arg& a, auto&& f) {
    if (a.kind == Arg::Kind::Slot) f(a.slot);
    for (int s : a.slots)
      if (s >= 0) f(s);
  };
  for (size_t i = 0; i < g.steps.size(); ++i)
    for (const Arg& a : g.steps[i].args) reads(a, [&](int s) { last[static_cast<size_t>(s)] = static_cast<int>(i); });
  for (const Arg& a : g.outputs) reads(a, [&](int s) { last[static_cast<size_t>(s)] = -2; });
  g.release.assign(g.steps.size(), {});
  for (size_t s = 0; s < last.size(); ++s)
    if (last[s] >= 0) g.release[static_cast<size_t>(last[s])].push_back(static_cast<int>(s));
}

// Puts Site steps into the top graph (see pt2_program.hpp). A module call's
// output is the one tensor its steps make that a step outside it (or the
// graph's output) reads; its input, the first tensor its steps read that
// comes from outside and is not a parameter, buffer or constant.
void place_sites(Program& p, const std::unordered_map<std::string, ModuleCall>& calls) {
  Graph& g = p.graphs[0];
  std::set<int> state_slots;
  for (const StateTensor& s : p.state) state_slots.insert(s.slot);
  auto in_call = [](const Step& s, const std::string& key) {
    return std::find(s.calls.begin(), s.calls.end(), key) != s.calls.end();
  };
  auto new_slot = [&](bool tensor) {
    g.tensor.push_back(tensor);
    return g.slots++;
  };
  auto for_reads = [](Arg& a, auto&& f) {
    if (a.kind == Arg::Kind::Slot) f(a.slot);
    for (int& s : a.slots)
      if (s >= 0) f(s);
  };
  auto site_step = [](const std::string& path, bool input, int from, int to, std::vector<std::string> stack) {
    Step st;
    st.kind = Step::Kind::Site;
    st.name = path + (input ? ":input" : "");
    st.target = "hook point";
    Arg a;
    a.kind = Arg::Kind::Slot;
    a.slot = from;
    st.args.push_back(a);
    st.outputs.push_back(to);
    st.calls = std::move(stack);
    st.site = HookSite{path, input};
    return st;
  };
  // Calls by depth and first appearance.
  struct CallInfo {
    std::string key;
    size_t depth;
    size_t first;
  };
  std::vector<CallInfo> order;
  std::set<std::string> seen;
  for (size_t i = 0; i < g.steps.size(); ++i)
    for (size_t d = 0; d < g.steps[i].calls.size(); ++d)
      if (seen.insert(g.steps[i].calls[d]).second) order.push_back({g.steps[i].calls[d], d, i});
  std::vector<std::pair<std::string, std::string>> multi;  // calls whose output is several tensors
  // Outputs, innermost first: an outer module's output site then reads the
  // inner one's (a Sequential ending in a Linear: fc, then the Sequential).
  std::vector<CallInfo> inner_first = order;
  std::stable_sort(inner_first.begin(), inner_first.end(),
                   [](const CallInfo& a, const CallInfo& b) { return a.depth > b.depth; });
  for (const CallInfo& c : inner_first) {
    std::set<int> made;
    for (const Step& s : g.steps)
      if (in_call(s, c.key))
        for (int o : s.outputs)
          if (o >= 0) made.insert(o);
    std::vector<int> leaving;
    auto note = [&](int s) {
      if (made.count(s) && std::find(leaving.begin(), leaving.end(), s) == leaving.end()) leaving.push_back(s);
    };
    for (Step& s : g.steps)
      if (!in_call(s, c.key))
        for (Arg& a : s.args) for_reads(a, note);
    for (int u : p.outputs.user) for_reads(g.outputs[static_cast<size_t>(u)], note);
    const ModuleCall& mc = calls.at(c.key);
    std::vector<int> tensors;
    for (int s : leaving)
      if (g.tensor[static_cast<size_t>(s)]) tensors.push_back(s);
    if (tensors.size() > 1) multi.emplace_back(mc.path, mc.type);
    if (tensors.size() != 1) continue;
    int from = tensors[0], to = new_slot(true);
    size_t producer = 0;
    for (size_t i = 0; i < g.steps.size(); ++i)
      if (std::find(g.steps[i].outputs.begin(), g.steps[i].outputs.end(), from) != g.steps[i].outputs.end()) producer = i;
    std::vector<std::string> stack = g.steps[producer].calls;
    stack.resize(static_cast<size_t>(std::find(stack.begin(), stack.end(), c.key) - stack.begin()) + 1);
    for (Step& s : g.steps)
      if (!in_call(s, c.key))
        for (Arg& a : s.args) for_reads(a, [&](int& r) { if (r == from) r = to; });
    for (int u : p.outputs.user) for_reads(g.outputs[static_cast<size_t>(u)], [&](int& r) { if (r == from) r = to; });
    g.steps.insert(g.steps.begin() + static_cast<std::ptrdiff_t>(producer) + 1,
                   site_step(mc.path, false, from, to, stack));
  }
  // Inputs, outermost first: an inner module's input site reads the outer's.
  for (const CallInfo& c : order) {
    std::set<int> made;
    size_t first = g.steps.size();
    for (size_t i = 0; i < g.steps.size(); ++i)
      if (in_call(g.steps[i], c.key)) {
        first = std::min(first, i);
        for (int o : g.steps[i].outputs)
          if (o >= 0) made.insert(o);
      }
    int from = -1;
    for (size_t i = first; i < g.steps.size() && from < 0; ++i) {
      if (!in_call(g.steps[i], c.key)) continue;
      for (Arg& a : g.steps[i].args)
        for_reads(a, [&](int& r) {
          if (from < 0 && g.tensor[static_cast<size_t>(r)] && !made.count(r) && !state_slots.count(r)) from = r;
        });
    }
    if (from < 0) continue;
    const ModuleCall& mc = calls.at(c.key);
    int to = new_slot(true);
    for (Step& s : g.steps)
      if (in_call(s, c.key))
        for (Arg& a : s.args) for_reads(a, [&](int& r) { if (r == from) r = to; });
    std::vector<std::string> stack = g.steps[first].calls;
    stack.resize(static_cast<size_t>(std::find(stack.begin(), stack.end(), c.key) - stack.begin()));
    g.steps.insert(g.steps.begin() + static_cast<std::ptrdiff_t>(first), site_step(mc.path, true, from, to, stack));
  }
  // The sites as a forward pass reaches them; a module called twice is one
  // site reached twice (hooked() counts calls the same way).
  for (const Step& s : g.steps) {
    if (s.kind != Step::Kind::Site) continue;
    std::string type;
    for (const auto& kv : calls)
      if (kv.second.path == s.site.path) type = kv.second.type;
    auto found = std::find_if(p.sites.begin(), p.sites.end(), [&](const HookSiteInfo& i) { return i.site == s.site; });
    if (found != p.sites.end()) {
      ++found->calls;
      continue;
    }
    p.sites.push_back(HookSiteInfo{s.site, type, true, "Tensor"});
  }
  for (const auto& [path, type] : multi)
    if (std::none_of(p.sites.begin(), p.sites.end(), [&](const HookSiteInfo& i) { return i.site.path == path && !i.site.input; }))
      p.sites.push_back(HookSiteInfo{HookSite{path, false}, type, false, "several tensors"});
}

// A user input's shape from its tensor_values entry.
InputSpec input_spec(const std::string& name, int slot, const json& meta, const std::string& where) {
  InputSpec in;
  in.name = name;
  in.slot = slot;
  in.dtype = scalar_type(meta.at("dtype").get<int64_t>(), where);
  std::string shape;
  for (const json& s : meta.at("sizes")) {
    std::string sym;
    if (s.contains("as_int")) {
      in.sizes.push_back(s.at("as_int").get<int64_t>());
      shape += (shape.empty() ? "" : ", ") + std::to_string(s.at("as_int").get<int64_t>());
    } else {
      std::string expr = s.at("as_expr").at("expr_str").get<std::string>();
      // "Symbol('s77', positive=True, integer=True)" -> s77; an expression
      // ("2*s77") is left unchecked here (the graph's own asserts run).
      if (expr.rfind("Symbol('", 0) == 0) sym = expr.substr(8, expr.find('\'', 8) - 8);
      in.sizes.push_back(std::nullopt);
      shape += (shape.empty() ? "" : ", ") + (sym.empty() ? expr : sym);
    }
    in.symbols.push_back(sym);
  }
  in.shape = "[" + shape + "]";
  return in;
}

// treespec JSON ("[1, {...}]") -> the one level pipette returns.
void output_structure(Program& p, const std::string& spec) {
  json s = json::parse(spec);
  const json& node = s.is_array() && s.size() == 2 ? s[1] : s;
  auto is_leaf = [](const json& n) { return n.at("type").is_null(); };
  if (is_leaf(node)) {
    p.outputs.kind = Outputs::Kind::Tensor;
    return;
  }
  std::string type = node.at("type").get<std::string>();
  for (const json& c : node.at("children_spec"))
    if (!is_leaf(c))
      throw OpError("'" + p.file + "': forward returns nested containers (" + type +
                    " of containers); return a tensor, or a tuple, list or dict of tensors");
  if (type == "builtins.tuple") p.outputs.kind = Outputs::Kind::Tuple;
  else if (type == "builtins.list") p.outputs.kind = Outputs::Kind::List;
  else if (type == "builtins.dict") {
    p.outputs.kind = Outputs::Kind::Dict;
    for (const json& k : json::parse(node.at("context").get<std::string>())) {
      if (!k.is_string())
        throw OpError("'" + p.file + "': forward returns a dict with a key that is not a string");
      p.outputs.keys.push_back(k.get<std::string>());
    }
  } else
    throw OpError("'" + p.file + "': forward returns a " + type +
                  " (a dataclass or named tuple); return a tensor, or a tuple, list or dict of tensors");
}

void check_inputs_spec(const Program& p, const std::string& spec) {
  json s = json::parse(spec);
  const json& node = s.is_array() && s.size() == 2 ? s[1] : s;
  // (args tuple, kwargs dict): every positional argument one tensor.
  const json& args = node.at("children_spec").at(0);
  for (const json& c : args.at("children_spec"))
    if (!c.at("type").is_null())
      throw OpError("'" + p.file + "': forward takes a " + c.at("type").get<std::string>() +
                    " of tensors; pipette passes tensors one by one: export a forward that takes each tensor "
                    "as its own argument");
  if (!node.at("children_spec").at(1).at("children_spec").empty())
    throw OpError("'" + p.file + "': the program was exported with keyword arguments; export it with every "
                                 "input positional (torch.export.export(model, (x, y)))");
}

}  // namespace

std::string node_where(const Step& s) {
  std::string w = "node '" + s.name + "' (" + s.target + ")";
  std::string frame = user_frame(s.stack_trace);
  return frame.empty() ? w : w + " at " + frame;
}

std::pair<std::string, std::string> operator_name(const std::string& target) {
  // torch.ops.<ns>.<name>.<overload>
  std::string rest = target.substr(std::string("torch.ops.").size());
  size_t a = rest.find('.');
  size_t b = rest.rfind('.');
  if (a == std::string::npos) return {rest, ""};
  std::string ns = rest.substr(0, a);
  if (a == b) return {ns + "::" + rest.substr(a + 1), ""};
  std::string overload = rest.substr(b + 1);
  return {ns + "::" + rest.substr(a + 1, b - a - 1), overload == "default" ? "" : overload};
}

std::shared_ptr<const Program> parse_program(const std::string& model_json, const std::string& file) {
  auto p = std::make_shared<Program>();
  p->file = file;
  json doc;
  try {
    doc = json::parse(model_json);
  } catch (const json::exception& e) {
    throw OpError("'" + file + "': its models/model.json is not JSON (" + std::string(e.what()) + ")");
  }
  try {
    p->torch_version = doc.value("torch_version", std::string("an unknown version"));
    const json& v = doc.at("schema_version");
    int major = v.at("major").get<int>(), minor = v.at("minor").get<int>();
    p->schema_version = std::to_string(major) + "." + std::to_string(minor);
    if (major != kSchemaMajor || minor > kSchemaMinorMax)
      throw OpError(fmt::format(
          "'{}' was exported by torch {} in export schema {}; pipette reads schema {}.0 to {}.{} (torch 2.11's "
          "format): export it with torch 2.11, or update pipette",
          file, p->torch_version, p->schema_version, kSchemaMajor, kSchemaMajor, kSchemaMinorMax));
    const json verifiers = doc.value("verifiers", json::array());
    for (const json& verifier : verifiers)
      if (verifier.get<std::string>() != "TRAINING" && verifier.get<std::string>() != "ATEN")
        throw OpError("'" + file + "' is a " + verifier.get<std::string>() +
                      " program; pipette runs the programs torch.export.export makes (the training IR), "
                      "before run_decompositions(...) to other dialects or AOTInductor");
    const json& gm = doc.at("graph_module");
    Parser parser(*p);
    p->graphs.emplace_back();
    parser.graph(gm.at("graph"), 0, true);
    Graph& g = p->graphs[0];
    const json& sig = gm.at("signature");
    size_t i = 0;
    const json& specs = sig.at("input_specs");
    if (specs.size() != g.inputs.size())
      throw OpError("'" + file + "': the signature lists " + std::to_string(specs.size()) + " inputs, the graph " +
                    std::to_string(g.inputs.size()));
    for (const json& spec : specs) {
      int slot = g.inputs[i++];
      if (spec.contains("parameter"))
        p->state.push_back({StateTensor::Kind::Parameter, spec.at("parameter").at("parameter_name"), slot});
      else if (spec.contains("buffer"))
        p->state.push_back({StateTensor::Kind::Buffer, spec.at("buffer").at("buffer_name"), slot,
                            spec.at("buffer").value("persistent", true)});
      else if (spec.contains("tensor_constant"))
        p->state.push_back({StateTensor::Kind::Constant, spec.at("tensor_constant").at("tensor_constant_name"), slot, false});
      else if (spec.contains("user_input")) {
        const json& a = spec.at("user_input").at("arg");
        if (!a.contains("as_tensor"))
          throw OpError("'" + file + "': forward takes a " + kind_name(a) +
                        " input; pipette passes tensors only: export a forward that takes tensors");
        std::string name = a.at("as_tensor").at("name");
        p->inputs.push_back(input_spec(name, slot, gm.at("graph").at("tensor_values").at(name), "'" + file + "'"));
      } else if (spec.contains("constant_input"))
        throw OpError("'" + file + "': forward takes a constant input '" +
                      spec.at("constant_input").value("name", std::string()) +
                      "' (a non-tensor argument fixed at export); export a forward that takes tensors only");
      else
        throw OpError("'" + file + "': an input of kind " + kind_name(spec) +
                      " (custom objects and effect tokens are not something pipette runs)");
    }
    if (!p->inputs.empty()) {
      const json& meta = gm.at("graph").at("tensor_values").at(p->inputs[0].name);
      p->export_device = device_of(meta.at("device"));
    }
    // Outputs: the user's, and write-backs of buffers, parameters and inputs.
    const json& outs = sig.at("output_specs");
    if (outs.size() != g.outputs.size())
      throw OpError("'" + file + "': the signature lists " + std::to_string(outs.size()) + " outputs, the graph " +
                    std::to_string(g.outputs.size()));
    std::map<std::string, int> state_index, input_index;
    for (size_t k = 0; k < p->state.size(); ++k) state_index[p->state[k].name] = static_cast<int>(k);
    for (size_t k = 0; k < p->inputs.size(); ++k) input_index[p->inputs[k].name] = static_cast<int>(k);
    for (size_t k = 0; k < outs.size(); ++k) {
      const json& o = outs[k];
      if (o.contains("user_output")) {
        if (!o.at("user_output").at("arg").contains("as_tensor"))
          throw OpError("'" + file + "': forward returns a " + kind_name(o.at("user_output").at("arg")) +
                        " output; pipette reads tensors: return tensors only");
        p->outputs.user.push_back(static_cast<int>(k));
      } else if (o.contains("buffer_mutation"))
        p->outputs.mutations.emplace_back(static_cast<int>(k), state_index.at(o.at("buffer_mutation").at("buffer_name")));
      else if (o.contains("parameter_mutation"))
        p->outputs.mutations.emplace_back(static_cast<int>(k),
                                          state_index.at(o.at("parameter_mutation").at("parameter_name")));
      else if (o.contains("user_input_mutation"))
        p->outputs.mutations.emplace_back(static_cast<int>(k),
                                          ~input_index.at(o.at("user_input_mutation").at("user_input_name")));
      else
        throw OpError("'" + file + "': an output of kind " + kind_name(o) +
                      " (a joint forward-backward graph); pipette runs forward programs and takes gradients itself");
    }
    const json ranges = doc.value("range_constraints", json::object());
    for (auto& [sym, r] : ranges.items()) {
      Range range;
      if (r.contains("min_val") && !r.at("min_val").is_null()) range.min = r.at("min_val").get<int64_t>();
      if (r.contains("max_val") && !r.at("max_val").is_null()) range.max = r.at("max_val").get<int64_t>();
      p->ranges[sym] = range;
    }
    const json& calls = gm.at("module_call_graph");
    if (!calls.empty() && !calls[0].at("signature").is_null()) {
      const json& root = calls[0].at("signature");
      check_inputs_spec(*p, root.at("in_spec").get<std::string>());
      output_structure(*p, root.at("out_spec").get<std::string>());
      if (root.contains("forward_arg_names") && root.at("forward_arg_names").is_array())
        p->forward_arg_names = root.at("forward_arg_names").get<std::vector<std::string>>();
    } else if (p->outputs.user.size() != 1) {
      p->outputs.kind = Outputs::Kind::Tuple;
    }
    if (p->outputs.kind == Outputs::Kind::Tensor && p->outputs.user.size() != 1)
      throw OpError("'" + file + "': its output spec is one tensor, its graph returns " +
                    std::to_string(p->outputs.user.size()));
    place_sites(*p, parser.calls_);
    for (Graph& each : p->graphs) plan_release(each);
  } catch (const json::exception& e) {
    throw OpError("'" + file + "': its models/model.json does not have the layout of export schema " +
                  std::to_string(kSchemaMajor) + " (" + e.what() + ")");
  } catch (const OpError&) {
    throw;
  } catch (const std::exception& e) {
    // A name the signature gives and the graph lacks, a device string
    // LibTorch rejects: a damaged file, said so.
    throw OpError("'" + file + "': its program is damaged or not one pipette reads (" +
                  excerpt(e.what(), 200) + ")");
  }
  return p;
}

}  // namespace pipette::pt2
