#include "cli/runtime_commands.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "cli/plugin_setup.hpp"

#ifndef PIPETTE_VERSION
#define PIPETTE_VERSION "unknown"
#endif
#ifndef PIPETTE_COMMANDS_LIBDIR
#define PIPETTE_COMMANDS_LIBDIR "../lib"
#endif

namespace pipette::cli {

namespace fs = std::filesystem;

const RuntimeCommands& runtime_commands() {
  static const RuntimeCommands* commands = [] {
    fs::path exe_dir = self_exe().parent_path();
    std::vector<fs::path> places = {exe_dir / "libpipette_commands.so",
                                    (exe_dir / PIPETTE_COMMANDS_LIBDIR / "libpipette_commands.so").lexically_normal()};
    std::string tried;
    for (auto& p : places) {
      std::error_code ec;
      if (!fs::exists(p, ec)) {
        tried += "\n  " + p.string() + ": not there";
        continue;
      }
      // RTLD_LOCAL: what the module links (LibTorch) stays out of the global
      // scope, where this executable's libstdc++ already is and is used first.
      void* handle = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        tried += "\n  " + p.string() + ": " + dlerror();
        continue;
      }
      auto entry = reinterpret_cast<const RuntimeCommands* (*)()>(dlsym(handle, "pipette_runtime_commands"));
      const RuntimeCommands* c = entry ? entry() : nullptr;
      if (!c || c->abi != kRuntimeCommandsAbi || std::string(c->version) != PIPETTE_VERSION) {
        tried += "\n  " + p.string() + ": from another build of pipette";
        continue;
      }
      return c;
    }
    throw std::runtime_error("cannot load pipette's runtime (libpipette_commands.so), which this command needs:" + tried);
  }();
  return *commands;
}

}  // namespace pipette::cli
