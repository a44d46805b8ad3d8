// Runs a pt2::Program node by node (pt2_program.hpp says what each step is).
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <cmath>
#include <map>

#include "engine/op_impl.hpp"
#include "engine/pt2_program.hpp"

namespace pipette::pt2 {

namespace {

double number(const c10::IValue& v) {
  if (v.isInt()) return static_cast<double>(v.toInt());
  if (v.isDouble()) return v.toDouble();
  if (v.isBool()) return v.toBool() ? 1.0 : 0.0;
  if (v.isTensor()) return v.toTensor().item<double>();
  throw OpError("expected a number, got " + v.tagKind());
}
bool is_integral(const c10::IValue& v) { return v.isInt() || v.isBool(); }
int64_t integer(const c10::IValue& v) {
  if (v.isInt()) return v.toInt();
  if (v.isBool()) return v.toBool() ? 1 : 0;
  if (v.isTensor()) return v.toTensor().item<int64_t>();
  double x = number(v);
  if (!std::isfinite(x)) throw OpError("cannot convert " + std::to_string(x) + " to an integer");
  return static_cast<int64_t>(x);
}
bool truth(const c10::IValue& v) {
  if (v.isBool()) return v.toBool();
  if (v.isTensor()) return v.toTensor().item<bool>();
  return number(v) != 0.0;
}

[[noreturn]] void overflow(const char* op) {
  throw OpError(std::string("integer overflow in a size computation (") + op + ")");
}
int64_t add_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow("+");
  return r;
}
int64_t sub_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow("-");
  return r;
}
int64_t mul_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow("*");
  return r;
}

// A finite double as an int, as Python's int() (it raises on inf and nan).
int64_t to_int(double x) {
  if (!std::isfinite(x) || x >= 9.2e18 || x <= -9.2e18)
    throw OpError("cannot convert " + std::to_string(x) + " to an integer");
  return static_cast<int64_t>(x);
}

// Python's float // and % (CPython's float_divmod: fmod, then the sign of the divisor).
std::pair<double, double> float_divmod(double x, double y) {
  if (y == 0) throw OpError("float division by zero");
  double mod = std::fmod(x, y), div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return {floordiv, mod};
}

// Python's semantics for the arithmetic torch.export records on sizes.
c10::IValue scalar_op(const std::string& t, const std::vector<c10::IValue>& a) {
  std::string op = t.substr(t.rfind('.') + 1);
  if (op == "_sym_sqrt") op = "sym_sqrt";
  auto both_int = [&] { return a.size() == 2 && is_integral(a[0]) && is_integral(a[1]); };
  if (op == "add") return both_int() ? c10::IValue(add_int(integer(a[0]), integer(a[1])))
                                     : c10::IValue(number(a[0]) + number(a[1]));
  if (op == "sub") return both_int() ? c10::IValue(sub_int(integer(a[0]), integer(a[1])))
                                     : c10::IValue(number(a[0]) - number(a[1]));
  if (op == "mul") return both_int() ? c10::IValue(mul_int(integer(a[0]), integer(a[1])))
                                     : c10::IValue(number(a[0]) * number(a[1]));
  if (op == "truediv") {
    if (number(a[1]) == 0) throw OpError("division by zero in a size computation");
    return number(a[0]) / number(a[1]);
  }
  if (op == "floordiv" || op == "mod") {
    if (!both_int()) {
      auto [q, m] = float_divmod(number(a[0]), number(a[1]));
      return op == "floordiv" ? q : m;
    }
    int64_t x = integer(a[0]), y = integer(a[1]);
    if (y == 0) throw OpError("integer division by zero in a size computation");
    if (y == -1) return op == "floordiv" ? c10::IValue(sub_int(0, x))
                                         : c10::IValue(int64_t{0});
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {
      --q;
      m += y;
    }
    return op == "floordiv" ? q : m;
  }
  if (op == "pow") {
    if (both_int() && integer(a[1]) >= 0) {
      // By squaring, checked: an exponent of 2**62 is 62 steps, not 2**62.
      int64_t base = integer(a[0]), e = integer(a[1]), acc = 1;
      while (e > 0) {
        if (e & 1) acc = mul_int(acc, base);
        e >>= 1;
        if (e) base = mul_int(base, base);
      }
      return acc;
    }
    return std::pow(number(a[0]), number(a[1]));
  }
  if (op == "neg") return is_integral(a[0]) ? c10::IValue(sub_int(0, integer(a[0])))
                                            : c10::IValue(-number(a[0]));
  if (op == "pos") return a[0];
  if (op == "eq") return number(a[0]) == number(a[1]);
  if (op == "ne") return number(a[0]) != number(a[1]);
  if (op == "lt") return number(a[0]) < number(a[1]);
  if (op == "le") return number(a[0]) <= number(a[1]);
  if (op == "gt") return number(a[0]) > number(a[1]);
  if (op == "ge") return number(a[0]) >= number(a[1]);
  if (op == "and_") return both_int() && !(a[0].isBool() && a[1].isBool()) ? c10::IValue(integer(a[0]) & integer(a[1]))
                                                                           : c10::IValue(truth(a[0]) && truth(a[1]));
  if (op == "or_") return both_int() && !(a[0].isBool() && a[1].isBool()) ? c10::IValue(integer(a[0]) | integer(a[1]))
                                                                          : c10::IValue(truth(a[0]) || truth(a[1]));
  if (op == "sym_not") return !truth(a[0]);
  if (op == "sym_int" || op == "trunc") return is_integral(a[0]) ? integer(a[0]) : to_int(std::trunc(number(a[0])));
  if (op == "ceil") return is_integral(a[0]) ? integer(a[0]) : to_int(std::ceil(number(a[0])));
  if (op == "floor") return is_integral(a[0]) ? integer(a[0]) : to_int(std::floor(number(a[0])));
  if (op == "sym_float") return number(a[0]);
  if (op == "sym_sqrt") return std::sqrt(number(a[0]));
  if (op == "sym_max") return both_int() ? c10::IValue(std::max(integer(a[0]), integer(a[1])))
                                         : c10::IValue(std::max(number(a[0]), number(a[1])));
  if (op == "sym_min") return both_int() ? c10::IValue(std::min(integer(a[0]), integer(a[1])))
                                         : c10::IValue(std::min(number(a[0]), number(a[1])));
  if (op == "sym_ite") return truth(a[0]) ? a[1] : a[2];
  throw OpError("the symbolic operation " + t + " is not one pipette runs");
}

// torch.autocast(device, dtype, enabled) for the length of a subgraph, as
// Python's context manager sets and restores it.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, std::optional<c10::ScalarType> dtype, bool enabled, bool cache)
      : device_(device) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR > 2
    was_enabled_ = at::autocast::is_autocast_enabled(device);
    was_dtype_ = at::autocast::get_autocast_dtype(device);
    at::autocast::set_autocast_enabled(device, enabled);
    if (dtype) at::autocast::set_autocast_dtype(device, *dtype);
#else
    if (device == c10::kCPU) {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(enabled);
      if (dtype) at::autocast::set_autocast_cpu_dtype(*dtype);
    } else {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(enabled);
      if (dtype) at::autocast::set_autocast_gpu_dtype(*dtype);
    }
#endif
    was_cache_ = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(cache);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_cache_enabled(was_cache_);
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR > 2
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, was_dtype_);
#else
    if (device_ == c10::kCPU) {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    } else {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_ = false, was_cache_ = true;
  c10::ScalarType was_dtype_ = c10::kBFloat16;
};

std::string where(const Step& s) { return node_where(s); }

class Runner {
 public:
  Runner(const Program& p, bool hooked, const std::string& prefix, c10::Device device)
      : p_(p), plan_(hooked ? active_hook_plan() : nullptr), prefix_(prefix), device_(device),
        move_(device != p.export_device) {}

  std::vector<c10::IValue> run(int gi, std::vector<c10::IValue> inputs) {
    const Graph& g = p_.graphs[static_cast<size_t>(gi)];
    std::vector<c10::IValue> v(static_cast<size_t>(g.slots));
    for (size_t i = 0; i < g.inputs.size() && i < inputs.size(); ++i) v[static_cast<size_t>(g.inputs[i])] = std::move(inputs[i]);
    for (size_t i = 0; i < g.steps.size(); ++i) {
      const Step& s = g.steps[i];
      try {
        step(s, v);
      } catch (const OpError&) {
        throw;
      } catch (const c10::Error& e) {
        throw OpError(where(s) + " failed: " + excerpt(e.what_without_backtrace(), 600));
      } catch (const std::exception& e) {
        throw OpError(where(s) + " failed: " + excerpt(e.what(), 600));
      }
      for (int r : g.release[i]) v[static_cast<size_t>(r)] = c10::IValue();
    }
    std::vector<c10::IValue> out;
    for (const Arg& a : g.outputs) out.push_back(value(a, v));
    return out;
  }

 private:
  c10::IValue value(const Arg& a, const std::vector<c10::IValue>& v) const {
    if (a.wrap_number) {
      c10::IValue x = a.kind == Arg::Kind::Slot ? v[static_cast<size_t>(a.slot)] : a.constant;
      if (x.isTensor()) return x;
      at::Tensor t = x.isInt() ? at::scalar_tensor(x.toInt(), at::kLong)
                     : x.isBool() ? at::scalar_tensor(x.toBool(), at::kBool)
                                  : at::scalar_tensor(number(x), at::kDouble);
      t.unsafeGetTensorImpl()->set_wrapped_number(true);
      return t;
    }
    switch (a.kind) {
      case Arg::Kind::Constant: return a.constant;
      case Arg::Kind::Slot: return v[static_cast<size_t>(a.slot)];
      case Arg::Kind::TensorList: {
        c10::List<at::Tensor> l;
        for (int s : a.slots) l.push_back(v[static_cast<size_t>(s)].toTensor());
        return l;
      }
      case Arg::Kind::OptionalTensorList: {
        c10::List<c10::optional<at::Tensor>> l;
        for (int s : a.slots)
          l.push_back(s < 0 ? c10::optional<at::Tensor>() : c10::optional<at::Tensor>(v[static_cast<size_t>(s)].toTensor()));
        return l;
      }
      case Arg::Kind::ScalarList: {
        auto item = [&](size_t i) { return a.slots[i] < 0 ? a.items[i] : v[static_cast<size_t>(a.slots[i])]; };
        if (a.scalar == 'i') {
          c10::List<int64_t> l;
          for (size_t i = 0; i < a.slots.size(); ++i) l.push_back(integer(item(i)));
          return l;
        }
        if (a.scalar == 'f') {
          c10::List<double> l;
          for (size_t i = 0; i < a.slots.size(); ++i) l.push_back(number(item(i)));
          return l;
        }
        c10::List<bool> l;
        for (size_t i = 0; i < a.slots.size(); ++i) l.push_back(truth(item(i)));
        return l;
      }
      case Arg::Kind::Device:
        // Tensors made in forward (torch.zeros(..., device=x.device)) go where
        // the inputs are, when the model runs elsewhere than it was exported.
        return move_ ? c10::IValue(device_) : a.constant;
      case Arg::Kind::Graph: break;
    }
    throw OpError("a subgraph used as a value");
  }

  std::vector<c10::IValue> values(const std::vector<Arg>& args, size_t from, const std::vector<c10::IValue>& v) const {
    std::vector<c10::IValue> out;
    for (size_t i = from; i < args.size(); ++i) {
      const Arg& a = args[i];
      if (a.kind == Arg::Kind::TensorList || a.kind == Arg::Kind::OptionalTensorList) {
        for (int s : a.slots) out.push_back(s < 0 ? c10::IValue() : v[static_cast<size_t>(s)]);
      } else {
        out.push_back(value(a, v));
      }
    }
    return out;
  }

  static void assign(const Step& s, std::vector<c10::IValue>& v, std::vector<c10::IValue> results) {
    for (size_t i = 0; i < s.outputs.size() && i < results.size(); ++i)
      if (s.outputs[i] >= 0) v[static_cast<size_t>(s.outputs[i])] = std::move(results[i]);
  }

  void step(const Step& s, std::vector<c10::IValue>& v) {
    switch (s.kind) {
      case Step::Kind::Op: {
        torch::jit::Stack stack;
        stack.reserve(s.args.size());
        for (const Arg& a : s.args) stack.push_back(value(a, v));
        s.op->callBoxed(&stack);
        if (s.list_output) {
          if (stack.size() != 1 || !stack[0].isList()) throw OpError("expected the op to return one list");
          std::vector<c10::IValue> items;
          for (const c10::IValue& x : stack[0].toListRef()) items.push_back(x);
          assign(s, v, std::move(items));
        } else {
          assign(s, v, std::move(stack));
        }
        return;
      }
      case Step::Kind::Scalar: {
        std::vector<c10::IValue> a;
        for (const Arg& x : s.args) a.push_back(value(x, v));
        assign(s, v, {scalar_op(s.target, a)});
        return;
      }
      case Step::Kind::TensorInt: {
        at::Tensor t = value(s.args.at(0), v).toTensor();
        std::string op = operator_name(s.target).first;
        int64_t r = 0;
        if (op == "aten::sym_size") r = t.size(integer(value(s.args.at(1), v)));
        else if (op == "aten::sym_stride") r = t.stride(integer(value(s.args.at(1), v)));
        else if (op == "aten::sym_numel") r = t.numel();
        else r = t.storage_offset();
        assign(s, v, {c10::IValue(r)});
        return;
      }
      case Step::Kind::AssertScalar: {
        if (!truth(value(s.args.at(0), v))) {
          std::string msg = s.args.size() > 1 && value(s.args[1], v).isString() ? value(s.args[1], v).toStringRef() : "";
          throw OpError(where(s) + ": a runtime assertion of the exported program failed: " + msg);
        }
        return;
      }
      case Step::Kind::ConstrainRange: {
        int64_t x = integer(value(s.args[0], v));
        c10::IValue lo = value(s.args[1], v), hi = value(s.args[2], v);
        if ((!lo.isNone() && x < integer(lo)) || (!hi.isNone() && x > integer(hi)))
          throw OpError(fmt::format("{}: the value {} is outside the range [{}, {}] the program was exported for",
                                    where(s), x, lo.isNone() ? "-inf" : std::to_string(integer(lo)),
                                    hi.isNone() ? "inf" : std::to_string(integer(hi))));
        return;
      }
      case Step::Kind::AssertMeta: {
        // The dtype only: the device may differ on purpose (a model moved to
        // the GPU), and sizes are the symbolic checks' job.
        c10::IValue dt = value(s.args[1], v);
        at::Tensor t = value(s.args[0], v).toTensor();
        if (!dt.isNone() && t.scalar_type() != static_cast<c10::ScalarType>(dt.toInt()))
          throw OpError(where(s) + ": the exported program expects " +
                        std::string(c10::toString(static_cast<c10::ScalarType>(dt.toInt()))) + " here, got " +
                        std::string(c10::toString(t.scalar_type())));
        return;
      }
      case Step::Kind::Cond: {
        bool pred = truth(value(s.args.at(0), v));
        int gi = pred ? s.args.at(1).graph : s.args.at(2).graph;
        assign(s, v, run(gi, values(s.args, 3, v)));
        return;
      }
      case Step::Kind::WhileLoop: {
        int cond = s.args.at(0).graph, body = s.args.at(1).graph;
        std::vector<c10::IValue> carried = values({s.args.at(2)}, 0, v);
        std::vector<c10::IValue> extra = values({s.args.at(3)}, 0, v);
        auto with_extra = [&](std::vector<c10::IValue> c) {
          c.insert(c.end(), extra.begin(), extra.end());
          return c;
        };
        while (truth(run(cond, with_extra(carried)).at(0))) carried = run(body, with_extra(carried));
        assign(s, v, std::move(carried));
        return;
      }
      case Step::Kind::GradEnabled: {
        at::AutoGradMode mode(truth(value(s.args.at(0), v)));
        assign(s, v, run(s.args.at(1).graph, values(s.args, 2, v)));
        return;
      }
      case Step::Kind::Autocast: {
        c10::Device d(value(s.args.at(0), v).toStringRef());
        if (move_ && d.type() == p_.export_device.type()) d = device_;
        c10::IValue dt = value(s.args.at(1), v);
        std::optional<c10::ScalarType> dtype;
        if (!dt.isNone()) dtype = static_cast<c10::ScalarType>(dt.toInt());
        AutocastScope scope(d.type(), dtype, truth(value(s.args.at(2), v)), truth(value(s.args.at(3), v)));
        assign(s, v, run(s.args.at(4).graph, values(s.args, 5, v)));
        return;
      }
      case Step::Kind::Site: {
        c10::IValue x = value(s.args.at(0), v);
        if (plan_ && x.isTensor()) {
          // A program nested in another model sees its sites by the outer path.
          if (prefix_.empty()) x = plan_->visit(s.site, x.toTensor());
          else x = plan_->visit(HookSite{s.site.path.empty() ? prefix_ : prefix_ + "." + s.site.path, s.site.input}, x.toTensor());
        }
        assign(s, v, {std::move(x)});
        return;
      }
    }
  }

  const Program& p_;
  HookPlan* plan_;
  std::string prefix_;
  c10::Device device_;
  bool move_;
};

// The inputs against the shapes, dtypes and ranges the program was exported
// for: a wrong batch size in a static export is an error that says how to
// export it, never a silently reshaped result.
void check_inputs(const Program& p, const std::vector<at::Tensor>& inputs) {
  if (inputs.size() != p.inputs.size())
    throw OpError(fmt::format("the model '{}' takes {} input(s), got {}", p.file, p.inputs.size(), inputs.size()));
  std::map<std::string, int64_t> bound;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputSpec& spec = p.inputs[i];
    const at::Tensor& x = inputs[i];
    auto shape_of = [](const at::Tensor& t) {
      std::string s;
      for (int64_t d : t.sizes()) s += (s.empty() ? "" : ", ") + std::to_string(d);
      return "[" + s + "]";
    };
    std::string what = fmt::format("the model '{}' was exported for {} of shape {}", p.file, spec.name, spec.shape);
    if (!x.defined()) throw OpError(what + "; got no tensor");
    if (static_cast<size_t>(x.dim()) != spec.sizes.size()) throw OpError(what + "; got " + shape_of(x));
    if (x.scalar_type() != spec.dtype)
      throw OpError(fmt::format("the model '{}' was exported for {} of dtype {}; got {}", p.file, spec.name,
                                c10::toString(spec.dtype), c10::toString(x.scalar_type())));
    for (size_t d = 0; d < spec.sizes.size(); ++d) {
      int64_t n = x.size(static_cast<int64_t>(d));
      if (spec.sizes[d] && *spec.sizes[d] != n) {
        std::string hint = d == 0 ? fmt::format(" (pipette runs models on batches of any size: export with "
                                                "dynamic_shapes={{\"{}\": {{0: torch.export.Dim(\"batch\")}}}})",
                                                spec.name)
                                  : "";
        throw OpError(what + "; got " + shape_of(x) + hint);
      }
      const std::string& sym = spec.symbols[d];
      if (sym.empty()) continue;
      auto [it, fresh] = bound.emplace(sym, n);
      if (!fresh && it->second != n)
        throw OpError(fmt::format("{}; got {}: size {} must equal the other {} ({})", what, shape_of(x), n, sym, it->second));
      auto r = p.ranges.find(sym);
      if (r != p.ranges.end() && ((r->second.min && n < *r->second.min) || (r->second.max && n > *r->second.max)))
        throw OpError(fmt::format("{}; got {}: {} = {} is outside the range [{}, {}] it was exported for", what,
                                  shape_of(x), sym, n, r->second.min ? std::to_string(*r->second.min) : "0",
                                  r->second.max ? std::to_string(*r->second.max) : "inf"));
    }
  }
}

}  // namespace

std::vector<at::Tensor> run_program(const Program& p, const std::vector<at::Tensor>& state,
                                    const std::vector<at::Tensor>& inputs, bool hooked, const std::string& prefix) {
  check_inputs(p, inputs);
  if (state.size() != p.state.size())
    throw OpError(fmt::format("the model '{}' holds {} tensors, its program reads {}", p.file, state.size(), p.state.size()));
  // In the graph's order of inputs, by the slot each was given: the
  // signature may interleave user inputs with lifted constants.
  const Graph& g = p.graphs[0];
  std::vector<c10::IValue> in(g.inputs.size());
  std::map<int, size_t> position;
  for (size_t k = 0; k < g.inputs.size(); ++k) position[g.inputs[k]] = k;
  for (size_t k = 0; k < state.size(); ++k) in.at(position.at(p.state[k].slot)) = state[k];
  for (size_t k = 0; k < inputs.size(); ++k) in.at(position.at(p.inputs[k].slot)) = inputs[k];
  c10::Device device = inputs.empty() ? (state.empty() ? p.export_device : state[0].device()) : inputs[0].device();
  std::vector<c10::IValue> out = Runner(p, hooked, prefix, device).run(0, std::move(in));
  // Write-backs the graph returns (functional buffer updates), as
  // ExportedProgram.module() applies them.
  {
    at::NoGradGuard no_grad;
    for (const auto& [index, target] : p.outputs.mutations) {
      at::Tensor value = out.at(static_cast<size_t>(index)).toTensor();
      at::Tensor dest = target >= 0 ? state.at(static_cast<size_t>(target)) : inputs.at(static_cast<size_t>(~target));
      dest.copy_(value);
    }
  }
  std::vector<at::Tensor> user;
  for (int u : p.outputs.user) {
    const c10::IValue& o = out.at(static_cast<size_t>(u));
    if (!o.isTensor()) throw OpError("the model '" + p.file + "' returned " + o.tagKind() + ", not a tensor");
    user.push_back(o.toTensor());
  }
  return user;
}

}  // namespace pipette::pt2
