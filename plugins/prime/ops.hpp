// The plugin's op families, each registered from its own file.
#pragma once

#include "engine/plugin_api.hpp"

namespace prime {

void register_tag_ops(pipette::OpLibrary& lib);       // tag_ops.cpp
void register_extract_ops(pipette::OpLibrary& lib);   // extract_ops.cpp
void register_baseline_ops(pipette::OpLibrary& lib);  // baseline_ops.cpp

}  // namespace prime
