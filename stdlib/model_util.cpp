#include "stdlib/model_util.hpp"

#include "engine/dataset.hpp"
#include "engine/value_io.hpp"
#include "stdlib/model_output.hpp"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <atomic>

namespace pipette::stdlib {

torch::jit::Module model_arg(const OpArgs& a, const std::string& name, c10::Device device) {
  torch::jit::Module m = pipette::model_arg(a, name);
  if (model_device(m, device) == device) return m;
  torch::jit::Module moved = clone_model(m);
  moved.to(device);
  return moved;
}

namespace {

bool has_convolution(const torch::jit::Block* b) {
  for (const torch::jit::Node* n : b->nodes()) {
    std::string kind = n->kind().toQualString();
    if (kind.rfind("aten::conv", 0) == 0 || kind == "aten::_convolution") return true;
    for (const torch::jit::Block* inner : n->blocks())
      if (has_convolution(inner)) return true;
  }
  return false;
}

bool has_convolution(const torch::jit::Module& m) {
  for (const torch::jit::Module& sub : m.modules())
    for (const torch::jit::Method& method : sub.get_methods())
      if (has_convolution(method.graph()->block())) return true;
  return false;
}

// The totals' types in reportMemoryUsage differ between LibTorch versions
// (int64_t in 1.13, size_t in 2.x): take them from the base class.
template <class>
struct ReportSignature;
template <class C, class Total, class Reserved>
struct ReportSignature<void (C::*)(void*, int64_t, Total, Reserved, c10::Device)> {
  using TotalType = Total;
  using ReservedType = Reserved;
};
using Report = ReportSignature<decltype(&c10::MemoryReportingInfoBase::reportMemoryUsage)>;

// Receives every allocation and free that LibTorch's allocators report while
// it is installed on the thread (as the autograd profiler does), and keeps
// the high-water mark of what was allocated since.
class PeakMeter : public c10::MemoryReportingInfoBase {
 public:
  void reportMemoryUsage(void*, int64_t size, Report::TotalType, Report::ReservedType, c10::Device) override {
    int64_t now = live_.fetch_add(size) + size;
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }
  bool memoryProfilingEnabled() const override { return true; }
  int64_t peak() const { return peak_.load(); }

 private:
  std::atomic<int64_t> live_{0}, peak_{0};
};

}  // namespace

int64_t forward_bytes_per_example(torch::jit::Module& m, const at::Tensor& x, int64_t fallback) {
  int64_t k = std::min<int64_t>(x.size(0), 8);
  if (k == 0) return fallback;
  at::Tensor probe = x.slice(0, 0, k).clone();  // allocated outside the meter
  auto meter = std::make_shared<PeakMeter>();
  {
    torch::NoGradGuard no_grad;
    c10::DebugInfoGuard on(c10::DebugInfoKind::PROFILER_STATE, meter);
    at::Tensor y = logits_of(m, probe);
    y.reset();  // freed while the meter listens, so the allocator forgets it
  }
  return meter->peak() > 0 ? meter->peak() / k : fallback;
}

torch::jit::Module forward_only(const torch::jit::Module& m) {
  // A module without the flag (built in C++) has no training behaviour to lose.
  if ((m.hasattr("training") && m.is_training()) || !has_convolution(m)) return m;
  for (const at::Tensor& p : m.parameters())
    if (!p.device().is_cpu()) return m;
  // Freezing inlines submodule calls only while graph optimisation is on
  // (thread-local; the executor turns it off for running models).
  torch::jit::GraphOptimizerEnabledGuard optimise(true);
  try {
    torch::jit::Module frozen = torch::jit::freeze(m);
    return torch::jit::optimize_for_inference(frozen);
  } catch (const c10::Error&) {
    return m;  // e.g. a model that mutates its attributes: run it as it is
  }
}

std::string per_example_shape(const at::Tensor& x) {
  std::string s = "[*";
  for (int64_t d = 1; d < x.dim(); ++d) s += ", " + std::to_string(x.size(d));
  return s + "]";
}

at::Tensor logits_of(torch::jit::Module& m, const at::Tensor& x) {
  Value y;
  try {
    y = m.forward({x});
  } catch (const std::exception& e) {
    // The model's own message speaks of the chunk the op happened to pass
    // ("shape '[21, 784]' is invalid" for 64 inputs); the example's shape is
    // what the user can check. (TorchScript's interpreter throws its errors as
    // std::runtime_error, not c10::Error.)
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    std::string why = without_torchscript_trace(c10 ? c10->what_without_backtrace() : e.what());
    if (auto missing = missing_output_error(why))
      throw OpError(*missing + " (model.load's output= picks one)");
    throw OpError("the model failed on inputs of shape " + per_example_shape(x) + " (" + dtype_name(x.scalar_type()) +
                  "; * = any batch size): " + excerpt(why, 600) +
                  ". Check that the inputs have the shape and dtype the model was exported for");
  }
  if (!y.isTensor()) throw OpError("the model returned " + describe(y) + ", not a tensor of outputs");
  // One row per input: a model that reduces over the batch (returns one row for
  // eight inputs) would otherwise be read as outputs for the first example.
  const at::Tensor& out = y.toTensor();
  if (x.dim() > 0 && (out.dim() == 0 || out.size(0) != x.size(0)))
    throw OpError("the model returned " + describe(y) + " for a batch of " + std::to_string(x.size(0)) +
                  " inputs of shape " + per_example_shape(x) +
                  "; it must return one row of outputs per input (does it reduce over the batch, or reshape it?)");
  // NaN outputs would become arg-max 0, a NaN probability, a metric that is
  // silently null: said here, with whether the input or the model is to blame.
  if (out.is_floating_point() && !out.isfinite().all().item<bool>()) {
    at::Tensor bad_rows = out.isfinite().logical_not().reshape({out.size(0), -1}).any(1);
    int64_t count = bad_rows.sum().item<int64_t>(), first = bad_rows.nonzero()[0][0].item<int64_t>();
    bool input_bad = x.is_floating_point() && !x[first].isfinite().all().item<bool>();
    throw OpError("the model's outputs hold NaN or Inf for " + std::to_string(count) + " of " +
                  std::to_string(out.size(0)) + " inputs in a batch (first: row " + std::to_string(first) + ", " +
                  (input_bad ? "whose input holds NaN or Inf" : "whose input is finite: the model made them") + ")");
  }
  return out;
}

at::Tensor score_rows(const at::Tensor& outputs) {
  if (outputs.dim() == 1) return outputs.unsqueeze(1);
  if (outputs.dim() != 2)
    throw OpError("targets are picked from outputs [N, classes] (or [N]); the model returned " +
                  describe(Value(outputs)));
  return outputs;
}

at::Tensor pick_targets(const at::Tensor& outputs, const at::Tensor& index) {
  at::Tensor rows = score_rows(outputs);
  at::Tensor idx = index.dim() == 1 ? index.view({-1, 1}) : index;
  if (idx.numel() > 0) {
    int64_t hi = idx.max().item<int64_t>(), lo = idx.min().item<int64_t>(), k = rows.size(1);
    if (hi >= k || lo < 0)
      throw OpError("target " + std::to_string(hi >= k ? hi : lo) + ", but the model has " + std::to_string(k) +
                    " output" + (k == 1 ? "" : "s") + " (targets are 0 to " + std::to_string(k - 1) + ")");
  }
  return rows.gather(1, idx);
}

at::Tensor targets_for(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& inputs) {
  int64_t n = inputs.size(0);
  const Value& t = a[name];
  if (t.isNone()) {
    torch::NoGradGuard no_grad;
    return score_rows(logits_of(m, inputs)).argmax(1);
  }
  if (t.isInt()) return at::full({n}, t.toInt(), inputs.options().dtype(at::kLong));
  at::Tensor target = a.tensor(name).to(inputs.device(), at::kLong).reshape({-1});
  if (target.numel() == 1) return target.expand({n}).contiguous();
  if (target.size(0) != n)
    throw OpError("'" + name + "' has " + std::to_string(target.size(0)) + " entries for " + std::to_string(n) +
                  " inputs");
  return target;
}

int64_t items_per_chunk(const OpContext& ctx, int64_t bytes_per_item, int64_t total) {
  if (total <= 0) return 1;
  // On a CPU, chunks whose working set stays within the last-level cache run
  // fastest; a GPU gets the budget. Measured with glibc keeping freed blocks
  // (malloc_tuning.hpp), bench/attribution with caps of 8, 16 and 32 MiB,
  // three rounds: 16 MiB was fastest or level on every case (IG on the CNN
  // 0.26-0.28 s; 0.45 s at the 2 MiB this cap had while every fresh block was
  // page-faulted in). Much larger chunks spill: IG on the quickstart's 256
  // images x 32 steps took 10.1 s in 256 MiB chunks, 2.3 s in 16 MiB ones.
  constexpr uint64_t kCpuChunkBytes = 16ull << 20;
  uint64_t limit = ctx.memory_budget ? ctx.memory_budget : UINT64_MAX;
  if (ctx.device.is_cpu()) limit = std::min(limit, kCpuChunkBytes);
  int64_t fit = static_cast<int64_t>(std::min<uint64_t>(
      limit / static_cast<uint64_t>(std::max<int64_t>(1, bytes_per_item)), static_cast<uint64_t>(total)));
  return std::clamp<int64_t>(fit, 1, total);
}

std::vector<at::Tensor> batched_multi(const OpArgs& a, OpContext& ctx,
                                      const std::function<std::vector<at::Tensor>(const at::Tensor&)>& f) {
  int64_t batch = a.int_("batch");
  bool lazy = is_dataset(a["inputs"]);
  DatasetPtr d = lazy ? a.dataset("inputs") : DatasetPtr();
  at::Tensor x = lazy ? at::Tensor() : a.tensor("inputs");
  int64_t n = lazy ? d->size() : x.size(0);
  const std::string field = lazy ? model_input_field(*d) : std::string();
  torch::NoGradGuard no_grad;
  std::vector<std::vector<at::Tensor>> outs;
  for (int64_t i = 0; i < n; i += batch) {
    if (ctx.cancelled()) throw OpError("cancelled");
    at::Tensor xb = lazy ? select_path(d->slice(i, i + batch), {field}).toTensor()
                         : x.slice(0, i, std::min(i + batch, n));
    std::vector<at::Tensor> parts = f(xb.to(ctx.device));
    if (outs.empty()) outs.resize(parts.size());
    for (size_t k = 0; k < parts.size(); ++k) outs[k].push_back(std::move(parts[k]));
    ctx.progress(static_cast<uint64_t>(std::min(i + batch, n)), static_cast<uint64_t>(n));
  }
  if (outs.empty()) throw OpError("no inputs to run the model on");
  std::vector<at::Tensor> result;
  for (auto& parts : outs) result.push_back(at::cat(parts, 0));
  return result;
}

at::Tensor batched(const OpArgs& a, OpContext& ctx, const std::function<at::Tensor(const at::Tensor&)>& f) {
  return batched_multi(a, ctx, [&](const at::Tensor& x) { return std::vector<at::Tensor>{f(x)}; })[0];
}

}  // namespace pipette::stdlib
