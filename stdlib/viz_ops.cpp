// viz.*: pictures of results.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_viz(OpLibrary& lib) {
  lib.declare(OpSignature("viz.heatmap", "Overlays attributions on images with a diverging colour map.")
            .input("images", "tensor", "Images [N, C, H, W]")
            .input("attributions", "tensor", "Attributions shaped like images")
            .param("cmap", "string", Operand::string("coolwarm"), "Colour map")
            .choices({"coolwarm", "seismic", "viridis", "gray"})
            .returns("tensor", "RGB images [N, 3, H, W] in [0, 1]; save them as .png"));
}

}  // namespace pipette::stdlib
