// The watermark plugin's entry point: `plugin "watermark"` in a script.
#include "ops.hpp"

PIPETTE_PLUGIN("watermark", "0.1.0",
               "Image watermarks and their robustness (Saberi et al., ICLR 2024): classical DWT-DCT watermarks, "
               "WAVES distortions, detection and quality metrics",
               watermark::register_ops)
