// Loading a plugin `.so` into this process: open it, check its descriptor (ABI
// version, build fingerprint), run its registration into a scratch library, and
// only when that succeeded and no op name clashes, add its ops to the host's.
// Every failure is an error message; none of them takes the host down, except
// a plugin that crashes in its own code, which is why `pipette` first scans
// plugins in a helper process (plugin_registry.hpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/api.hpp"
#include "engine/op_library.hpp"

namespace pipette {

struct PluginInfo {
  std::string name, version, description;
  std::filesystem::path file;
  std::vector<std::string> ops;  // names, as registered
};

struct PluginLoad {
  std::optional<PluginInfo> plugin;  // set on success
  std::string error;                 // why not, naming the file (and plugin, once known)
  bool ok() const { return plugin.has_value(); }
};

// The fingerprint this host was built with (PIPETTE_BUILD_FINGERPRINT).
PIPETTE_API std::string host_fingerprint();

// Opens FILE with RTLD_NOW|RTLD_LOCAL. The library is never closed, not even
// after a failure: code it registered (or static destructors) may still run.
PIPETTE_API PluginLoad load_plugin(const std::filesystem::path& file, OpLibrary& into);

}  // namespace pipette
