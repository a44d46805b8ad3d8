// The standard library's ops, registered exactly as a plugin registers its own.
#pragma once

#include "engine/op_registry.hpp"

namespace pipette::stdlib {

void register_all(OpRegistry& registry);

// One function per namespace, each in its own file.
void register_core(OpRegistry& registry);    // save
void register_tensor(OpRegistry& registry);  // tensor.*
void register_data(OpRegistry& registry);    // data.*
void register_model(OpRegistry& registry);   // model.*, train.*
void register_attr(OpRegistry& registry);    // attr.*
void register_metric(OpRegistry& registry);  // metric.*
void register_viz(OpRegistry& registry);     // viz.*

}  // namespace pipette::stdlib
