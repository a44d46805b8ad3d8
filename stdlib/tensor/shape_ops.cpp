// tensor.* that reshape, select, combine and rescale: what scripts need
// between one op's output and the next op's input (issue 24's list). Each
// checks what ATen would reject in its own terms, so the error names the
// sizes the user gave.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/dataset.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

std::string shape_of(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

// A dimension as Python counts it (-1 is the last), checked against x.
int64_t dim_in(const at::Tensor& x, int64_t dim, const std::string& what = "dim") {
  int64_t n = std::max<int64_t>(x.dim(), 1);
  if (dim < -n || dim >= n)
    throw OpError(fmt::format("{}={} is outside a tensor of shape {} (dims -{}..{})", what, dim, shape_of(x), n, n - 1));
  return dim < 0 ? dim + n : dim;
}

}  // namespace

void register_tensor_shape(OpLibrary& lib) {
  lib.define(OpSignature("tensor.reshape", "x with another shape and the same elements in order (torch.reshape); "
                                           "one size may be -1, inferred.")
                 .input("x", "tensor", "Input")
                 .input("shape", "list<int>", "The new sizes, e.g. [-1, 28, 28]")
                 .passes_nonfinite()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               std::vector<int64_t> shape = int_list(a, "shape");
               int64_t known = 1, inferred = 0;
               for (int64_t d : shape) {
                 if (d == -1) ++inferred;
                 else if (d < 0) throw OpError(fmt::format("shape {} has a negative size", fmt::join(shape, ", ")));
                 else known *= d;
               }
               bool fits = inferred > 1 ? false
                           : inferred ? known != 0 && x.numel() % known == 0
                                      : known == x.numel();
               if (!fits)
                 throw OpError(fmt::format("cannot reshape {} ({} elements) to [{}]{}", shape_of(x), x.numel(),
                                           fmt::join(shape, ", "), inferred > 1 ? ": only one size may be -1" : ""));
               return Value(x.reshape(shape));
             });

  lib.define(OpSignature("tensor.slice", "Elements start..end (end excluded) along dim, every step-th: x[start:end:step] "
                                         "in Python; negative start and end count from the end.")
                 .input("x", "tensor", "Input")
                 .param("dim", "int", Operand::integer(0), "The dimension")
                 .param("start", "int", Operand::integer(0), "First index")
                 .optional("end", "int", "One past the last index (default: the end)")
                 .param("step", "int", Operand::integer(1), "Stride")
                 .range(1)
                 .passes_nonfinite()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               if (x.dim() == 0) throw OpError("cannot slice a 0-dimensional tensor");
               int64_t d = dim_in(x, a.int_("dim"));
               int64_t n = x.size(d);
               auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
               int64_t start = clampi(a.int_("start")), end = a.is_none("end") ? n : clampi(a.int_("end"));
               return Value(x.slice(d, start, std::max(start, end), a.int_("step")));
             });

  // What a call's shards=N lowers to (lang/elaborate_calls.cpp): shard INDEX
  // of COUNT of a per-example argument, by example range.
  lib.define(OpSignature("tensor.shard", "Shard INDEX of COUNT of a per-example value, by example range: rows "
                                         "[INDEX*N/COUNT, (INDEX+1)*N/COUNT) of a tensor with as many rows as LIKE (N); any "
                                         "other value (a number, a list of targets for every example, a [1, ...] "
                                         "baseline, none) whole. What shards=N on a "
                                         "call lowers to.")
                 .input("value", "any", "A per-example argument of the sharded call")
                 .input("like", "any", "The call's examples (a tensor): their count N decides the ranges")
                 .param("index", "int", Operand::integer(0), "Which shard")
                 .range(0)
                 .param("count", "int", Operand::integer(1), "How many shards")
                 .range(1)
                 .passes_nonfinite()
                 .returns("any"),
             [](const OpArgs& a, OpContext&) {
               const Value& v = a["value"];
               if (contains_dataset(v) || contains_dataset(a["like"]))
                 throw OpError("shards= splits tensors of examples, and this argument is a dataset; pass its "
                               "field instead (d.images)");
               if (!a["like"].isTensor()) throw OpError("the examples to shard are " + describe(a["like"]) + ", not a tensor");
               const at::Tensor like = a["like"].toTensor();
               const int64_t n = like.dim() == 0 ? 1 : like.size(0), count = a.int_("count"), i = a.int_("index");
               if (count > n)
                 throw OpError("shards=" + std::to_string(count) + ", but there are only " + std::to_string(n) +
                               " examples; ask for at most " + std::to_string(n));
               if (i >= count) throw OpError("shard " + std::to_string(i) + " of " + std::to_string(count) + " does not exist");
               // Sizes differ by at most one, and none is empty.
               const int64_t start = i * n / count, end = (i + 1) * n / count;
               if (!v.isTensor()) return v;
               const at::Tensor& t = v.toTensor();
               if (t.dim() == 0 || t.size(0) != n) return v;
               // A copy: a view would be stored in the cache with all of its base.
               return Value(t.slice(0, start, end).clone());
             });

  lib.define(OpSignature("tensor.index", "The entries at these indices along dim, in their order (torch.index_select); "
                                         "negative indices count from the end.")
                 .input("x", "tensor", "Input")
                 .input("indices", "tensor|list<int>", "Integer indices")
                 .param("dim", "int", Operand::integer(0), "The dimension")
                 .passes_nonfinite()
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               if (x.dim() == 0) throw OpError("cannot index a 0-dimensional tensor");
               int64_t d = dim_in(x, a.int_("dim"));
               std::vector<int64_t> idx = int_list(a, "indices");
               int64_t n = x.size(d);
               for (int64_t& i : idx) {
                 if (i < -n || i >= n)
                   throw OpError(fmt::format("index {} is outside dimension {} of a tensor of shape {} ({} entries)", i,
                                             d, shape_of(x), n));
                 if (i < 0) i += n;
               }
               return Value(x.index_select(d, at::tensor(idx, at::kLong).to(x.device())));
             });

  lib.define(OpSignature("tensor.abs", "Element-wise |x|.")
                 .input("x", "tensor", "Input")
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) { return Value(a.tensor("x").abs()); });

  lib.define(OpSignature("tensor.softmax", "Softmax along dim: probabilities from logits (torch.softmax).")
                 .input("x", "tensor", "Logits")
                 .param("dim", "int", Operand::integer(-1), "The dimension that sums to 1")
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               if (!x.is_floating_point()) x = x.to(at::kFloat);
               return Value(x.softmax(dim_in(x, a.int_("dim"))));
             });

  for (bool stack : {false, true}) {
    lib.define(OpSignature(stack ? "tensor.stack" : "tensor.cat",
                           stack ? "Tensors of one shape stacked along a new dimension dim (torch.stack)."
                                 : "Tensors joined along an existing dimension dim (torch.cat); their other sizes "
                                   "must agree.")
                   .input("tensors", "list<tensor>", "Two or more tensors")
                   .param("dim", "int", Operand::integer(0), "The dimension")
                   .passes_nonfinite()
                   .returns("tensor"),
               [stack](const OpArgs& a, OpContext&) {
                 std::vector<at::Tensor> ts = tensor_list(a, "tensors");
                 if (ts.empty()) throw OpError("no tensors to join");
                 const at::Tensor& first = ts[0];
                 int64_t d = stack ? a.int_("dim") : dim_in(first, a.int_("dim"));
                 if (stack && (d < -(first.dim() + 1) || d > first.dim()))
                   throw OpError(fmt::format("dim={} is outside the {} positions a new dimension can take", d,
                                             first.dim() + 1));
                 for (size_t i = 1; i < ts.size(); ++i) {
                   bool same = ts[i].dim() == first.dim();
                   for (int64_t k = 0; same && k < first.dim(); ++k)
                     same = ts[i].size(k) == first.size(k) || (!stack && k == d);
                   if (!same)
                     throw OpError(fmt::format("tensor {} is {}, tensor 0 is {}: {}", i, shape_of(ts[i]), shape_of(first),
                                               stack ? "stacking needs one shape" : "only dim " + std::to_string(d) + " may differ"));
                 }
                 at::ScalarType t = first.scalar_type();
                 for (const at::Tensor& x : ts) t = at::promote_types(t, x.scalar_type());
                 for (at::Tensor& x : ts) x = x.to(t);
                 return Value(stack ? at::stack(ts, d) : at::cat(ts, d));
               });
  }

  lib.define(OpSignature("tensor.topk", "The k largest (or smallest) entries along dim, sorted, and where they are "
                                        "(torch.topk).")
                 .input("x", "tensor", "Input")
                 .input("k", "int", "How many")
                 .param("dim", "int", Operand::integer(-1), "The dimension")
                 .param("largest", "bool", Operand::boolean(true), "false: the k smallest")
                 .returns("record{values: tensor, indices: tensor}"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               int64_t d = dim_in(x, a.int_("dim")), k = a.int_("k");
               int64_t n = x.dim() ? x.size(d) : 1;
               if (k < 1 || k > n)
                 throw OpError(fmt::format("k={} is not between 1 and {}, the size of dim {} of {}", k, n, d, shape_of(x)));
               auto [values, indices] = x.topk(k, d, a.bool_("largest"), /*sorted=*/true);
               return make_record({{"values", Value(values)}, {"indices", Value(indices)}});
             });

  lib.define(OpSignature("tensor.clamp", "x limited to [min, max] element-wise (torch.clamp); either bound may be "
                                         "left out.")
                 .input("x", "tensor", "Input")
                 .optional("min", "float", "Lower bound")
                 .optional("max", "float", "Upper bound")
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               c10::optional<at::Scalar> lo, hi;
               if (!a.is_none("min")) lo = a.float_("min");
               if (!a.is_none("max")) hi = a.float_("max");
               if (!lo && !hi) throw OpError("tensor.clamp needs min=, max= or both");
               if (lo && hi && lo->toDouble() > hi->toDouble())
                 throw OpError(fmt::format("min={} is above max={}", lo->toDouble(), hi->toDouble()));
               return Value(a.tensor("x").clamp(lo, hi));
             });

  lib.define(OpSignature("tensor.normalize", "x divided by its p-norm along dim (torch.nn.functional.normalize, "
                                             "eps 1e-12): unit vectors.")
                 .input("x", "tensor", "Input")
                 .param("p", "float", Operand::real(2.0), "The norm's order (1, 2, ...)")
                 .range(0)
                 .param("dim", "int", Operand::integer(1), "The dimension normalised")
                 .returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("x");
               if (!x.is_floating_point()) x = x.to(at::kFloat);
               int64_t d = dim_in(x, a.int_("dim"));
               at::Tensor norm = x.norm(a.float_("p"), d, /*keepdim=*/true).clamp_min(1e-12);
               return Value(x / norm);
             });
}

}  // namespace pipette::stdlib
