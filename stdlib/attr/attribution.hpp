// What the attr.* methods share, one header per job: targets, baselines,
// feature groups, the batched evaluators, the hook point of layer methods, and
// gradient methods as functions (for ops that re-explain perturbed inputs or
// models: noise tunnel, sensitivity, MPRT).
#pragma once

#include "stdlib/attr/baselines.hpp"
#include "stdlib/attr/evaluators.hpp"
#include "stdlib/attr/features.hpp"
#include "stdlib/attr/hook_point.hpp"
#include "stdlib/attr/targets.hpp"

namespace pipette::stdlib {

// A gradient method (saliency, input_x_gradient, integrated_gradients) as a
// function of (inputs, targets [M]) on model `m`, its parameters (abs, steps,
// method) read from the call. `baselines` are for the first inputs it is given
// and repeat for copies of them (noise tunnel). For ops that re-explain
// perturbed inputs or perturbed models: noise tunnel, sensitivity, MPRT.
using Method = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& target)>;
Method gradient_method(const std::string& name, torch::jit::Module& m, const OpArgs& a, OpContext& ctx,
                       const at::Tensor& baselines);
// method (choices above), abs, and integrated gradients' parameters.
OpSignature& explainer_params(OpSignature& s, bool abs_default = true);

void register_attr_gradient(OpLibrary& lib);      // saliency, IG, noise tunnel, gradient SHAP, delta, guided backprop
void register_attr_perturbation(OpLibrary& lib);  // occlusion, ablation, Shapley, KernelSHAP, LIME, RISE
void register_attr_layer(OpLibrary& lib);         // Grad-CAM, layer IG, conductance, activation, gradient x activation
void register_attr_deeplift(OpLibrary& lib);      // DeepLift, DeepLift SHAP, layer DeepLift
void register_attr_lrp(OpLibrary& lib);           // LRP with Zennit's rules and composites
void register_attr_neuron(OpLibrary& lib);        // neuron gradient, integrated gradients, conductance
void register_attr_sobol(OpLibrary& lib);         // Sobol attribution (Fel et al.)
void register_attr_llm(OpLibrary& lib);           // LLM feature ablation, Shapley, layer IG on the embedding
void register_attr_tcav(OpLibrary& lib);          // TCAV with its significance test

}  // namespace pipette::stdlib
