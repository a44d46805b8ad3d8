#include "stdlib/stdlib.hpp"

#include <algorithm>
#include <iterator>

namespace pipette::stdlib {

namespace {

void mark_light_ops(OpLibrary& lib) {
  // Under a cluster executor these run in the driver: each costs less than a
  // job's start-up (about 2 s on Slurm). Datasets are also not storable in
  // the cache, so a job re-opens them itself.
  static const char* const kLightNamespaces[] = {"data", "tensor", "viz"};
  static const char* const kLightOps[] = {"choose", "element", "field", "load", "save", "tabulate",
                                          "model.load", "model.bind", "model.hooks", "model.patch",
                                          "metric.mean_of_shards"};
  for (const OpSignature* sig : lib.ops.ops()) {
    std::string_view ns = op_namespace(sig->name());
    bool light = std::find(std::begin(kLightOps), std::end(kLightOps), sig->name()) != std::end(kLightOps);
    for (const char* n : kLightNamespaces) light = light || ns == n;
    if (light) lib.ops.find_mutable(sig->name())->light();
  }
}

// The ops whose output row i depends on example i alone: the attribution methods
// (Captum's methods are per example; FeaturePermutation shuffles across the
// batch and is not). Their per-example parameters are split by shards=N;
// for the SHAP-style methods `baselines` is a distribution every example
// shares, so it goes to every shard whole.
void mark_shardable_ops(OpLibrary& lib) {
  static const char* const kNotPerExample[] = {"attr.feature_permutation", "attr.feature_grid", "attr.convergence_delta"};
  static const char* const kSharedBaselines[] = {"attr.deep_lift_shap", "attr.gradient_shap", "attr.expected_gradients"};
  static const char* const kPerExample[] = {"inputs", "target", "baselines", "feature_mask"};
  for (const OpSignature* sig : lib.ops.ops_in("attr")) {
    if (!sig->output().is(Type::Kind::Tensor) || !sig->find_param("inputs")) continue;
    const std::string& name = sig->name();
    if (std::find(std::begin(kNotPerExample), std::end(kNotPerExample), name) != std::end(kNotPerExample)) continue;
    bool shared = std::find(std::begin(kSharedBaselines), std::end(kSharedBaselines), name) != std::end(kSharedBaselines);
    std::vector<std::string> split;
    for (const char* p : kPerExample)
      if (sig->find_param(p) && !(shared && std::string(p) == "baselines")) split.push_back(p);
    lib.ops.find_mutable(name)->shardable(std::move(split));
  }
  // Metrics whose score of input i depends on input i alone; Consistency and
  // Sufficiency compare inputs with each other, MPRT and ROAD return curves.
  static const char* const kNotPerInput[] = {"metric.consistency", "metric.sufficiency", "metric.mprt", "metric.road",
                                             "metric.mean_of_shards"};
  static const char* const kMetricPerExample[] = {"inputs", "attributions", "target", "baselines", "masks"};
  for (const OpSignature* sig : lib.ops.ops_in("metric")) {
    const std::string& name = sig->name();
    if (!sig->find_param("reduce") || !sig->output().accepts(Type::tensor()) ||
        std::find(std::begin(kNotPerInput), std::end(kNotPerInput), name) != std::end(kNotPerInput))
      continue;
    std::vector<std::string> split;
    for (const char* p : kMetricPerExample)
      if (sig->find_param(p)) split.push_back(p);
    lib.ops.find_mutable(name)->shardable(std::move(split), "reduce");
  }
  // Predictions are one row per example too (given as a tensor: a dataset
  // argument is refused by tensor.shard with a message).
  lib.ops.find_mutable("model.predict")->shardable({"inputs"});
}

}  // namespace

void register_all(OpLibrary& lib) {
  register_core(lib);
  register_tensor(lib);
  register_tensor_shape(lib);
  register_data(lib);
  register_data_files(lib);
  register_data_text(lib);
  register_model(lib);
  register_train(lib);
  register_diffusion(lib);
  register_diffusion_text(lib);
  register_lm(lib);
  register_attr(lib);
  register_metric(lib);
  register_attack(lib);
  register_viz(lib);
  register_viz_figures(lib);
  register_viz_attribution(lib);
  mark_light_ops(lib);
  mark_shardable_ops(lib);
}


const OpLibrary& library() {
  static const OpLibrary lib = [] {
    OpLibrary l;
    register_all(l);
    return l;
  }();
  return lib;
}

}  // namespace pipette::stdlib
