// The standard library's ops, registered exactly as a plugin registers its own.
#pragma once

#include "engine/op_library.hpp"

namespace pipette::stdlib {

void register_all(OpLibrary& lib);

// One function per namespace, each in its own file.
void register_core(OpLibrary& lib);    // save
void register_tensor(OpLibrary& lib);  // tensor.*
void register_data(OpLibrary& lib);    // data.*
void register_model(OpLibrary& lib);   // model.*
void register_train(OpLibrary& lib);   // train.*
void register_attr(OpLibrary& lib);    // attr.*
void register_metric(OpLibrary& lib);  // metric.*
void register_viz(OpLibrary& lib);     // viz.*

// The process-wide standard library (built on first use).
const OpLibrary& library();

}  // namespace pipette::stdlib
