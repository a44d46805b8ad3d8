#include "engine/model_arg.hpp"

#include <map>
#include <mutex>
#include <utility>

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

namespace {

// Moved copies of model values, by the value's object and the device. The
// entry holds the original weakly: a model value that is gone frees its copies
// at the next lookup, and a new object at the same address is not mistaken
// for it.
struct MovedCopy {
  c10::weak_intrusive_ptr<c10::ivalue::Object> original;
  torch::jit::Module copy;
};

torch::jit::Module moved_copy(const torch::jit::Module& m, c10::Device device) {
  static std::mutex lock;
  static std::map<std::pair<const void*, std::string>, MovedCopy> copies;
  std::lock_guard<std::mutex> guard(lock);
  for (auto it = copies.begin(); it != copies.end();)
    it = it->second.original.expired() ? copies.erase(it) : std::next(it);
  auto key = std::make_pair(static_cast<const void*>(m._ivalue().get()), device.str());
  auto found = copies.find(key);
  if (found != copies.end()) return found->second.copy;
  torch::jit::Module copy = clone_model(m);
  copy.to(device);
  copies.emplace(key, MovedCopy{c10::weak_intrusive_ptr<c10::ivalue::Object>(m._ivalue()), copy});
  return copy;
}

}  // namespace

torch::jit::Module model_arg(const OpArgs& a, const std::string& name, c10::Device device) {
  torch::jit::Module m = model_arg(a, name);
  if (model_device(m, device) == device) return m;
  return moved_copy(m, device);
}

c10::Device model_device(const torch::jit::Module& m, c10::Device fallback) {
  for (const at::Tensor& p : m.parameters()) return p.device();
  return fallback;
}

}  // namespace pipette
