// The watermark plugin's op families.
#pragma once

#include <stdexcept>

#include "engine/plugin_api.hpp"

namespace watermark {

using pipette::OpArgs;
using pipette::OpContext;
using pipette::Operand;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Value;

// An op's implementation for the registry. The plugin's core throws
// std::invalid_argument for bad input: the user's error, which the engine
// reports with the node and its source line.
template <class F>
pipette::OpRun guarded(F f) {
  return [f](const OpArgs& a, OpContext& ctx) -> Value {
    try {
      return f(a, ctx);
    } catch (const std::invalid_argument& e) {
      throw OpError(e.what());
    }
  };
}

void register_ops(pipette::OpLibrary& lib);      // ops.cpp
void register_pgd_ops(pipette::OpLibrary& lib);  // pgd_ops.cpp
void register_learned_ops(pipette::OpLibrary& lib);  // learned_ops.cpp
void register_attack_ops(pipette::OpLibrary& lib);   // attack_ops.cpp
void register_treering_ops(pipette::OpLibrary& lib);  // treering_ops.cpp

}  // namespace watermark
