// The localize plugin's op groups, each registered from its own file.
#pragma once

#include "engine/plugin_api.hpp"

namespace localize {

// The SDK names every op file uses.
using pipette::OpArgs;
using pipette::OpContext;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Operand;
using pipette::Value;

void register_locogen_ops(pipette::OpLibrary& lib);       // locogen_ops.cpp
void register_contribution_ops(pipette::OpLibrary& lib);  // contribution_ops.cpp
void register_edit_ops(pipette::OpLibrary& lib);          // edit_ops.cpp

}  // namespace localize
