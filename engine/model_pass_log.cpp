#include "engine/model_pass_log.hpp"

#include <atomic>
#include <stdexcept>

namespace pipette {

namespace {
std::atomic<ModelPassLog*> active{nullptr};
thread_local int unlogged = 0;
}  // namespace

ModelPassLog::ModelPassLog() {
  ModelPassLog* none = nullptr;
  if (!active.compare_exchange_strong(none, this)) throw std::logic_error("a ModelPassLog is already recording");
}

ModelPassLog::~ModelPassLog() { active.store(nullptr); }

std::vector<ModelPass> ModelPassLog::passes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return passes_;
}

void ModelPassLog::note(const torch::jit::Module& m, const at::Tensor& x, const at::Tensor& out) {
  ModelPassLog* log = active.load(std::memory_order_relaxed);
  if (!log || unlogged > 0) return;
  ModelPass p{m, x.sizes().vec(), x.scalar_type(), x.device(), at::GradMode::is_enabled() && out.requires_grad()};
  std::lock_guard<std::mutex> lock(log->mutex_);
  log->passes_.push_back(std::move(p));
}

UnloggedPasses::UnloggedPasses() { ++unlogged; }
UnloggedPasses::~UnloggedPasses() { --unlogged; }

}  // namespace pipette
