// The watermark plugin's entry point: `plugin "watermark"` in a script.
#include "ops.hpp"

namespace {

void register_watermark(pipette::OpLibrary& lib) {
  watermark::register_ops(lib);
  watermark::register_pgd_ops(lib);
  watermark::register_learned_ops(lib);
  watermark::register_attack_ops(lib);
  watermark::register_treering_ops(lib);
}

}  // namespace

PIPETTE_PLUGIN("watermark", "0.1.0",
               "Image watermarks and their robustness (Saberi et al., ICLR 2024): classical DWT-DCT, learned and "
               "Tree-Ring watermarks, WAVES distortions, the paper's attacks, detection and quality metrics",
               register_watermark)
