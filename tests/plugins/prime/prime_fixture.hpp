// The prime plugin's script fixture (tests/plugins/plugin_scripts.hpp).
#pragma once

#include "../plugin_scripts.hpp"

namespace pipette {

struct PrimeTraits {
  static constexpr const char* name = "prime";
  static constexpr const char* file = PRIME_PLUGIN;
};

class Prime : public PluginScripts<PrimeTraits> {};

}  // namespace pipette
