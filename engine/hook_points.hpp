// Hook points in any model, by path: every submodule call of a scripted or
// traced model (features.2, blocks.3.attn, layer1.0.conv2) and every method
// call (pipette's architectures' `features`) is a site whose output, and each
// tensor input, a plan can read or replace during a forward pass. No change to
// the user's model: hooked() rewrites a copy's TorchScript graph so that each
// site's value passes through the registered op pipette::site, which hands it
// to the plan active on the calling thread (the identity without one).
//
// The plan (HookPlan) knows nothing of TorchScript: it sees a site's path and
// value, so models from other front ends (torch.export graphs, interpreted
// node by node) can apply the same plan by module path.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "engine/api.hpp"

namespace pipette {

// One place in a model: a module's (or method's) dotted path, and whether the
// value is its input (the first tensor argument: `path:input`) or its output.
struct HookSite {
  std::string path;
  bool input = false;
  // "features.2", "features.2:input": how users name a site.
  PIPETTE_API std::string name() const;
  // Parses "path" or "path:input".
  PIPETTE_API static HookSite parse(const std::string& name);
  bool operator==(const HookSite& o) const { return path == o.path && input == o.input; }
};

// What hooked() found, in the order a forward pass reaches the sites.
struct HookSiteInfo {
  HookSite site;
  std::string module_type;  // "Conv2d", "ReLU", "method" for a method call
  bool tensor = true;       // false: the value is a tuple, list or dict (listed, not addressable)
  std::string value_type;   // the value's TorchScript type: "Tensor", "Tuple[Tensor, Tensor]"
  // How many times a forward pass reaches it (a module applied twice: 2).
  // Captures keep the last call's value; changes apply at every call.
  int calls = 1;
};

// What a forward pass does at its sites. visit() sees each tensor site's value
// as the pass reaches it and returns the value the model goes on with: the
// same tensor to read it (gradients flow to what it captured), another to
// replace it. A site called more than once (a module applied twice) is
// visited each time.
class PIPETTE_API HookPlan {
 public:
  virtual ~HookPlan() = default;
  virtual at::Tensor visit(const HookSite& site, const at::Tensor& value) = 0;
};

// Makes `plan` the one forward passes on this thread consult while it lives.
class PIPETTE_API ActivePlan {
 public:
  explicit ActivePlan(HookPlan& plan);
  ~ActivePlan();
  ActivePlan(const ActivePlan&) = delete;
  ActivePlan& operator=(const ActivePlan&) = delete;

 private:
  HookPlan* previous_;
};

// The plan ActivePlan made current on this thread, or null: what interpreted
// models (engine/pt2_program.hpp) consult at their sites.
PIPETTE_API HookPlan* active_hook_plan();

// A model with its sites: `module` computes what the model does, with every
// site passing through the active plan; its parameters are the model's own
// tensors (not copies), so training through it trains the model.
struct HookedModel {
  torch::jit::Module module;
  std::vector<HookSiteInfo> sites;
  // The site named `name` ("features.2", "blocks.0:input"); an OpError naming
  // the closest paths the model has when it has none, or when the value there
  // is not a tensor.
  PIPETTE_API const HookSiteInfo& find(const std::string& name) const;
};

// model.load's output= wrapper (stdlib/model/model_output.cpp): a module of this
// class whose `model` submodule is the user's model.
inline constexpr const char* kOutputWrapperNamespace = "__torch__.pipette";
inline constexpr const char* kOutputWrapperClass = "OutputOf";
PIPETTE_API bool is_output_wrapper(const torch::jit::Module& m);
// A submodule's or parameter's name under `root` as the user's model names it:
// "model.features.0" under the wrapper is "features.0" ("model" itself is "").
PIPETTE_API std::string user_path(const torch::jit::Module& root, const std::string& name);

// The model's parameters by dotted path ("features.0.weight"), as Python's
// named_parameters() names them (model.load's output= wrapper adds nothing).
PIPETTE_API std::vector<std::pair<std::string, at::Tensor>> parameters_by_path(const torch::jit::Module& m);

// `m` with hook sites. Throws OpError for a model hooked() cannot rewrite.
PIPETTE_API HookedModel hooked(const torch::jit::Module& m);

}  // namespace pipette
