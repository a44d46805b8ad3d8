// The watermark plugin's entry point: `plugin "watermark"` in a script.
#include "ops.hpp"

namespace {

void register_watermark(pipette::OpLibrary& lib) {
  watermark::register_ops(lib);
  watermark::register_pgd_ops(lib);
  watermark::register_learned_ops(lib);
}

}  // namespace

PIPETTE_PLUGIN("watermark", "0.1.0",
               "Image watermarks and their robustness (Saberi et al., ICLR 2024): classical DWT-DCT watermarks, "
               "WAVES distortions, detection and quality metrics",
               register_watermark)
