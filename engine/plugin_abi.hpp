// The binary contract between pipette and a plugin `.so`: one extern "C" entry
// point returning a descriptor. LibTorch-free (only its version macros) on purpose: the host reads the
// descriptor's first field before trusting anything else in it.
//
// Rules (docs/plugins.md):
//   - `abi_version` is the first field and never moves. A host refuses a plugin
//     whose abi_version differs from its own without reading further.
//   - `fingerprint` names what the C++ objects crossing the boundary depend on
//     (SDK version, compiler, C++ standard library ABI, LibTorch version); host
//     and plugin must agree exactly, since ops, signatures and values are C++.
//   - `register_ops` adds the plugin's ops to the library it is given; it may
//     throw, and the host reports that as a load failure.
#pragma once

#include <torch/version.h>  // macros only: TORCH_VERSION_MAJOR/MINOR

#include <cstdint>

#include "engine/sdk_version.hpp"

namespace pipette {
struct OpLibrary;
}

// Bump when the descriptor's layout or the meaning of a field changes.
#define PIPETTE_PLUGIN_ABI_VERSION 1
// The symbol every plugin exports (dlsym looks it up by this name).
#define PIPETTE_PLUGIN_ENTRY_SYMBOL "pipette_plugin_descriptor"

extern "C" {

struct PipettePluginDescriptor {
  uint32_t abi_version;     // PIPETTE_PLUGIN_ABI_VERSION the plugin was built with
  uint32_t struct_size;     // sizeof(PipettePluginDescriptor) as the plugin saw it
  const char* fingerprint;  // PIPETTE_BUILD_FINGERPRINT as the plugin was built
  const char* name;         // what scripts write in `plugin "NAME"`
  const char* version;      // the plugin's own version, free form
  const char* description;  // one sentence for `pipette plugins list`
  void (*register_ops)(pipette::OpLibrary* library);
};

typedef const PipettePluginDescriptor* (*PipettePluginEntry)(void);

}  // extern "C"

#define PIPETTE_STRINGIFY_(x) #x
#define PIPETTE_STRINGIFY(x) PIPETTE_STRINGIFY_(x)

#if defined(__clang__)
#define PIPETTE_COMPILER_ID "clang-" PIPETTE_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define PIPETTE_COMPILER_ID "gcc-" PIPETTE_STRINGIFY(__GNUC__)
#else
#define PIPETTE_COMPILER_ID "unknown-compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define PIPETTE_STDLIB_ID "libc++"
#elif defined(_GLIBCXX_USE_CXX11_ABI)
#define PIPETTE_STDLIB_ID "libstdc++-cxx11abi" PIPETTE_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define PIPETTE_STDLIB_ID "unknown-stdlib"
#endif

// What host and plugin must agree on, as one string. Compared exactly.
#define PIPETTE_BUILD_FINGERPRINT                                                                         \
  "pipette-" PIPETTE_SDK_VERSION " abi-" PIPETTE_STRINGIFY(PIPETTE_PLUGIN_ABI_VERSION) " " PIPETTE_COMPILER_ID \
  " " PIPETTE_STDLIB_ID " libtorch-" PIPETTE_STRINGIFY(TORCH_VERSION_MAJOR) "." PIPETTE_STRINGIFY(TORCH_VERSION_MINOR)
