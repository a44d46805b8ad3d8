#include "engine/model_arg.hpp"

#include <mutex>

namespace pipette {

torch::jit::Module model_arg(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  if (!v.isObject()) throw OpError("'" + name + "' must be a model, got " + describe(v));
  return torch::jit::Module(v.toObject());
}

torch::jit::Module clone_model(const torch::jit::Module& m, bool share_tensors) {
  static std::mutex lock;
  std::lock_guard<std::mutex> guard(lock);
  return m.clone(share_tensors);
}

c10::Device model_device(const torch::jit::Module& m, c10::Device fallback) {
  for (const at::Tensor& p : m.parameters()) return p.device();
  return fallback;
}

}  // namespace pipette
