#include "stdlib/model/model_util.hpp"

#include "engine/dataset.hpp"
#include "engine/value_io.hpp"
#include "engine/model_output.hpp"

#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <atomic>

namespace pipette::stdlib {

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
    UnloggedPasses probing;  // learns about the model; not a pass any method needs
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

std::vector<at::Tensor> batched_multi(const OpArgs& a, OpContext& ctx,
                                      const std::function<std::vector<at::Tensor>(const at::Tensor&)>& f) {
  bool lazy = is_dataset(a["inputs"]);
  DatasetPtr d = lazy ? a.dataset("inputs") : DatasetPtr();
  at::Tensor x = lazy ? at::Tensor() : a.tensor("inputs");
  int64_t n = lazy ? d->size() : x.size(0);
  const std::string field = lazy ? model_input_field(*d) : std::string();
  torch::NoGradGuard no_grad;
  std::vector<std::vector<at::Tensor>> outs;
  for_chunks(ctx, n, a.int_("batch"), [&](int64_t i, int64_t end) {
    at::Tensor xb = lazy ? select_path(d->slice(i, end), {field}).toTensor() : x.slice(0, i, end);
    std::vector<at::Tensor> parts = f(xb.to(ctx.device));
    if (outs.empty()) outs.resize(parts.size());
    for (size_t k = 0; k < parts.size(); ++k) outs[k].push_back(std::move(parts[k]));
  });
  if (outs.empty()) throw OpError("no inputs to run the model on");
  std::vector<at::Tensor> result;
  for (auto& parts : outs) result.push_back(at::cat(parts, 0));
  return result;
}

at::Tensor batched(const OpArgs& a, OpContext& ctx, const std::function<at::Tensor(const at::Tensor&)>& f) {
  return batched_multi(a, ctx, [&](const at::Tensor& x) { return std::vector<at::Tensor>{f(x)}; })[0];
}

}  // namespace pipette::stdlib
