// Signatures and implementations together: what the standard library and each
// plugin contribute.
#pragma once

#include "engine/op_impl.hpp"
#include "engine/op_registry.hpp"

namespace pipette {

struct OpLibrary {
  OpRegistry ops;
  OpImpls impls;

  // Registers a signature with its implementation (marked implemented).
  void define(OpSignature sig, OpRun run) {
    sig.set_implemented(true);
    impls.add(sig.name(), std::move(run));
    ops.add(std::move(sig));
  }
  // A signature whose implementation is still to come.
  void declare(OpSignature sig) { ops.add(std::move(sig)); }
};

}  // namespace pipette
