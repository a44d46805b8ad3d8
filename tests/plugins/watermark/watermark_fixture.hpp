// The watermark plugin's script fixture (tests/plugins/plugin_scripts.hpp).
#pragma once

#include "../plugin_scripts.hpp"

namespace pipette {

struct WatermarkTraits {
  static constexpr const char* name = "watermark";
  static constexpr const char* file = WATERMARK_PLUGIN;
};

class Watermark : public PluginScripts<WatermarkTraits> {
 protected:
  // Six photographs of Debian's python3-skimage at 256x256.
  static std::string photos() {
    return "let photos = data.images(names=[\"astronaut.png\", \"chelsea.png\", \"coffee.png\", \"rocket.jpg\", "
           "\"motorcycle_left.png\", \"hubble_deep_field.jpg\"], size=256).images\n";
  }
  static at::Tensor tensor(const Execution& e, const std::string& name) { return report(e, name).toTensor(); }
};

}  // namespace pipette
