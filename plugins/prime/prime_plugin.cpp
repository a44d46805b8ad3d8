// The prime plugin's entry point: `plugin "prime"` in a script.
#include "ops.hpp"

namespace {

void register_prime(pipette::OpLibrary& lib) {
  prime::register_tag_ops(lib);
  prime::register_extract_ops(lib);
  prime::register_baseline_ops(lib);
}

}  // namespace

PIPETTE_PLUGIN("prime", "0.1.0",
               "PRIME failure-mode extraction (Rezaei et al., ICLR 2024): minimal tag sets on which a classifier "
               "fails, image tags, and a clustering baseline",
               register_prime)
