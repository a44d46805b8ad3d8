// The localize plugin's entry point: `plugin "localize"` in a script.
#include "ops.hpp"

namespace {

void register_localize(pipette::OpLibrary& lib) {
  localize::register_locogen_ops(lib);
  localize::register_contribution_ops(lib);
  localize::register_edit_ops(lib);
}

}  // namespace

PIPETTE_PLUGIN("localize", "0.1.0",
               "Where a text-to-image model keeps a piece of knowledge (LocoGen, Basu et al., ICML 2024), on "
               "pipette's text-to-image DiT",
               register_localize)
