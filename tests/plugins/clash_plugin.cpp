// A well-formed plugin whose second op takes a name the standard library holds.
#include "engine/plugin_api.hpp"

namespace {
void register_clash(pipette::OpLibrary& lib) {
  auto id = [](const pipette::OpArgs& a, pipette::OpContext&) -> pipette::Value { return a["x"]; };
  lib.define(pipette::OpSignature("clash.identity", "Returns its input.").input("x", "tensor", "").returns("tensor"), id);
  lib.define(pipette::OpSignature("tensor.add", "Pretends to add.").input("x", "tensor", "").returns("tensor"), id);
}
}  // namespace

PIPETTE_PLUGIN("clash", "0.1.0", "Registers an op name that is taken", register_clash)
