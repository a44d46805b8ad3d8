// The standard library's ops, registered exactly as a plugin registers its own.
#pragma once

#include "engine/op_library.hpp"

namespace pipette::stdlib {

void register_all(OpLibrary& lib);

// One function per namespace, each in its own file.
void register_core(OpLibrary& lib);    // save
void register_tensor(OpLibrary& lib);  // tensor.*
void register_tensor_shape(OpLibrary& lib);  // tensor.* that reshape, select, join and rescale
void register_data(OpLibrary& lib);    // data.* over Fashion-MNIST and tensors
void register_data_files(OpLibrary& lib);  // data.* over image folders, CSV; data.normalize
void register_data_text(OpLibrary& lib);   // data.captioned, data.tokenize, data.captions
void register_model(OpLibrary& lib);   // model.*
void register_model_hooks(OpLibrary& lib);  // model.hooks, model.activations, model.patch
void register_train(OpLibrary& lib);   // train.*
void register_diffusion(OpLibrary& lib);  // diffusion.*
void register_diffusion_text(OpLibrary& lib);  // diffusion.train_text, diffusion.sample_text
void register_lm(OpLibrary& lib);     // train.lm, lm.*
void register_attr(OpLibrary& lib);    // attr.*
void register_metric(OpLibrary& lib);  // metric.*
void register_attack(OpLibrary& lib);  // attack.*
void register_viz(OpLibrary& lib);     // viz.heatmap
void register_viz_figures(OpLibrary& lib);  // viz.grid, viz.curve
void register_viz_attribution(OpLibrary& lib);  // viz.attribution: Captum's visualize_image_attr

// The process-wide standard library (built on first use).
const OpLibrary& library();

}  // namespace pipette::stdlib
