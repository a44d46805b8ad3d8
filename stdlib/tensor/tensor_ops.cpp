// tensor.*: loading, creating and combining tensors.
#include <ATen/ATen.h>

#include "engine/value_io.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/data/file_readers.hpp"
#include "stdlib/data/npy_reader.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The tensor in `p`; in a file of several (safetensors, a dict saved by
// torch.save) the one named `key`, or the only one.
at::Tensor load_tensor(const std::filesystem::path& p, const std::optional<std::string>& key) {
  if (p.extension() == ".npy") return read_npy(p);
  std::map<std::string, at::Tensor> named;
  if (p.extension() == ".safetensors") {
    named = read_safetensors(p);
  } else {
    Value v = read_pt_file(p);
    if (v.isTensor() && !key) return v.toTensor();
    if (!v.isGenericDict()) throw OpError("'" + p.string() + "' holds " + describe(v) + ", not a tensor");
    for (const auto& kv : v.toGenericDict())
      if (kv.key().isString() && kv.value().isTensor()) named[kv.key().toStringRef()] = kv.value().toTensor();
  }
  std::string names;
  for (auto& [name, t] : named) names += (names.empty() ? "" : ", ") + name;
  if (key) {
    auto it = named.find(*key);
    if (it == named.end()) throw OpError("'" + p.string() + "' has no tensor '" + *key + "' (it has: " + names + ")");
    return it->second;
  }
  if (named.size() != 1)
    throw OpError("'" + p.string() + "' holds " + std::to_string(named.size()) + " tensors (" + names +
                  "); pick one with key=");
  return named.begin()->second;
}

std::optional<int64_t> dim_of(const OpArgs& a) {
  if (a.is_none("dim")) return std::nullopt;
  return a.int_("dim");
}

}  // namespace

void register_tensor(OpLibrary& lib) {
  lib.define(OpSignature("tensor.load",
                         "Reads a tensor from a .pt file written by torch.save (a tensor, or a dict of them), a "
                         ".npy file (numpy.save) or a .safetensors file.")
                 .input("path", "string", "File to read; relative paths are relative to the script")
                 .input_file()
                 .optional("key", "string", "Which tensor of a file that holds several")
                 .passes_nonfinite()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext& ctx) {
               std::optional<std::string> key;
               if (!a.is_none("key")) key = a.string("key");
               return Value(load_tensor(ctx.input_path(a.string("path")), key));
             });

  lib.define(OpSignature("tensor.save",
                         "Writes a tensor under the run's output directory: .pt (torch.load), .npy (numpy.load) "
                         "or .csv (1-D/2-D, one row per line). The tensor is moved to the CPU first.")
                 .input("x", "tensor", "The tensor")
                 .input("path", "string", "File name, relative to the output directory (`pipette run --out`)")
                 .output_path()
                 .side_effects()
                 .passes_nonfinite()
                 .returns("string", "The path written, relative to the output directory"),
             [](const OpArgs& a, OpContext& ctx) {
               std::string ext = std::filesystem::path(a.string("path")).extension().string();
               if (ext != ".pt" && ext != ".npy" && ext != ".csv" && ext != ".png")
                 throw OpError("tensor.save writes .pt, .npy, .csv or .png, not '" + ext + "'");
               ctx.write_output(a.string("path"), encode_value_file(Value(a.tensor("x")), a.string("path")));
               return Value(a.string("path"));
             });

  lib.define(OpSignature("tensor.random", "A tensor of random numbers. Seeded from the run seed and the node's identity.")
                 .input("shape", "list<int>", "Sizes of each dimension")
                 .compile_time()
                 .param("distribution", "string", Operand::string("normal"), "normal: N(0, 1); uniform: U[0, 1)")
                 .choices({"normal", "uniform"})
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext& ctx) {
               std::vector<int64_t> shape = int_list(a, "shape");
               for (int64_t d : shape)
                 if (d < 0) throw OpError("shape sizes must not be negative");
               at::Generator gen = ctx.generator();
               at::Tensor t = a.string("distribution") == "uniform" ? at::rand(shape, gen) : at::randn(shape, gen);
               return Value(t);
             });

  using Binary = at::Tensor (*)(const at::Tensor&, const at::Tensor&);
  struct BinaryOp {
    const char* name;
    const char* doc;
    Binary fn;
  };
  for (auto op : {BinaryOp{"add", "Element-wise a + b, with broadcasting.", [](auto& x, auto& y) { return x + y; }},
                  BinaryOp{"sub", "Element-wise a - b, with broadcasting.", [](auto& x, auto& y) { return x - y; }},
                  BinaryOp{"mul", "Element-wise a * b, with broadcasting.", [](auto& x, auto& y) { return x * y; }},
                  BinaryOp{"div", "Element-wise a / b, with broadcasting.", [](auto& x, auto& y) { return x / y; }},
                  // Comparisons give bool tensors: masks for tensor.where, or
                  // fractions through tensor.mean (e.g. accuracy).
                  BinaryOp{"eq", "Element-wise a == b (bool), with broadcasting.", [](auto& x, auto& y) { return x.eq(y); }},
                  BinaryOp{"ne", "Element-wise a != b (bool), with broadcasting.", [](auto& x, auto& y) { return x.ne(y); }},
                  BinaryOp{"lt", "Element-wise a < b (bool), with broadcasting.", [](auto& x, auto& y) { return x.lt(y); }},
                  BinaryOp{"le", "Element-wise a <= b (bool), with broadcasting.", [](auto& x, auto& y) { return x.le(y); }},
                  BinaryOp{"gt", "Element-wise a > b (bool), with broadcasting.", [](auto& x, auto& y) { return x.gt(y); }},
                  BinaryOp{"ge", "Element-wise a >= b (bool), with broadcasting.", [](auto& x, auto& y) { return x.ge(y); }}}) {
    lib.define(OpSignature(std::string("tensor.") + op.name, op.doc)
                   .input("a", "tensor|float", "Left operand")
                   .input("b", "tensor|float", "Right operand")
                   .returns("tensor"),
               [fn = op.fn](const OpArgs& a, OpContext&) { return Value(fn(a.tensor("a"), a.tensor("b"))); });
  }

  lib.define(OpSignature("tensor.where",
                         "Element-wise choice, with broadcasting: a where condition holds, b elsewhere (e.g. "
                         "relabelling the examples a mask selects).")
                 .input("condition", "tensor", "Bool (or 0/1) mask")
                 .input("a", "tensor|float", "Taken where the condition holds")
                 .input("b", "tensor|float", "Taken elsewhere")
                 .returns("tensor", "The common type of a and b"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor c = a.tensor("condition"), x = a.tensor("a"), y = a.tensor("b");
               if (c.is_floating_point() && c.isnan().any().item<bool>()) throw OpError("the condition holds NaN");
               at::ScalarType t = at::result_type(x, y);
               return Value(at::where(c.ne(0), x.to(t), y.to(t)));
             });

  // The two ops that look at NaN and Inf rather than refuse them (the engine
  // refuses them everywhere else): find them, and replace them.
  lib.define(OpSignature("tensor.isfinite",
                         "Element-wise: true where x is neither NaN nor infinite (a mask for tensor.where, or with "
                         "tensor.mean the share of finite values).")
                 .input("x", "tensor", "Input; NaN and Inf allowed")
                 .passes_nonfinite()
                 .returns("tensor", "bool, shaped like x"),
             [](const OpArgs& a, OpContext&) { return Value(a.tensor("x").isfinite()); });
  lib.define(OpSignature("tensor.nan_to_num",
                         "NaN, +Inf and -Inf replaced by the given values (torch.nan_to_num); by default 0 and the "
                         "dtype's largest and smallest finite values.")
                 .input("x", "tensor", "Input; NaN and Inf allowed")
                 .param("nan", "float", Operand::real(0.0), "What NaN becomes")
                 .optional("posinf", "float", "What +Inf becomes; none: the largest finite value")
                 .optional("neginf", "float", "What -Inf becomes; none: the smallest finite value")
                 .passes_nonfinite()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               auto opt = [&](const char* name) {
                 return a.is_none(name) ? c10::optional<double>() : c10::optional<double>(a.float_(name));
               };
               return Value(at::nan_to_num(a.tensor("x"), a.float_("nan"), opt("posinf"), opt("neginf")));
             });

  using Reduce = at::Tensor (*)(const at::Tensor&, std::optional<int64_t>);
  struct ReduceOp {
    const char* name;
    const char* doc;
    Reduce fn;
    // An empty sum is 0; the others have no value (a mean would be a silent NaN).
    bool defined_on_empty = false;
  };
  for (auto op : {ReduceOp{"sum", "Sum over a dimension, or over all elements.",
                           [](const at::Tensor& x, std::optional<int64_t> d) { return d ? x.sum(*d) : x.sum(); }, true},
                  ReduceOp{"mean", "Mean over a dimension, or over all elements.",
                           [](const at::Tensor& x, std::optional<int64_t> d) {
                             at::Tensor f = x.is_floating_point() ? x : x.to(at::kFloat);
                             return d ? f.mean(*d) : f.mean();
                           }},
                  ReduceOp{"max", "Maximum over a dimension, or over all elements.",
                           [](const at::Tensor& x, std::optional<int64_t> d) {
                             return d ? std::get<0>(x.max(*d)) : x.max();
                           }},
                  ReduceOp{"min", "Minimum over a dimension, or over all elements.",
                           [](const at::Tensor& x, std::optional<int64_t> d) {
                             return d ? std::get<0>(x.min(*d)) : x.min();
                           }},
                  ReduceOp{"argmax",
                           "Index (int64) of the maximum over a dimension (e.g. dim=1 of logits: the predicted "
                           "class), or over all elements flattened. The first one on ties.",
                           [](const at::Tensor& x, std::optional<int64_t> d) {
                             return d ? x.argmax(*d) : x.argmax();
                           }},
                  ReduceOp{"argmin", "Index (int64) of the minimum over a dimension, or over all elements flattened.",
                           [](const at::Tensor& x, std::optional<int64_t> d) {
                             return d ? x.argmin(*d) : x.argmin();
                           }}}) {
    lib.define(OpSignature(std::string("tensor.") + op.name, op.doc)
                   .input("x", "tensor", "Input")
                   .optional("dim", "int", "Dimension to reduce; none reduces everything")
                   .returns("tensor"),
               [op](const OpArgs& a, OpContext&) {
                 at::Tensor x = a.tensor("x");
                 auto d = dim_of(a);
                 if (d && (*d >= x.dim() || *d < -x.dim()))
                   throw OpError("dim " + std::to_string(*d) + " is out of range for " + describe(Value(x)));
                 if (x.numel() == 0 && !op.defined_on_empty)
                   throw OpError("cannot reduce an empty tensor " + describe(Value(x)));
                 return Value(op.fn(x, d));
               });
  }
}

}  // namespace pipette::stdlib
