// Plugins that fail to load, each in its own way, chosen by BAD_PLUGIN_CASE.
// Only the descriptor header: no LibTorch to compile, so these build in seconds.
#include <signal.h>
#include <unistd.h>

#include <stdexcept>

#include "engine/plugin_abi.hpp"

#define NO_ENTRY 1
#define UNRESOLVED 2
#define ABI_MISMATCH 3
#define FINGERPRINT_MISMATCH 4
#define THROWS 5
#define CRASHES 6
#define HANGS 7

namespace {

#if BAD_PLUGIN_CASE == UNRESOLVED
extern "C" void pipette_test_symbol_nobody_defines();
void register_ops(pipette::OpLibrary*) { pipette_test_symbol_nobody_defines(); }
#elif BAD_PLUGIN_CASE == THROWS
void register_ops(pipette::OpLibrary*) { throw std::runtime_error("no licence server reachable"); }
#elif BAD_PLUGIN_CASE == CRASHES
void register_ops(pipette::OpLibrary*) { ::raise(SIGSEGV); }
#elif BAD_PLUGIN_CASE == HANGS
void register_ops(pipette::OpLibrary*) {
  for (;;) ::pause();
}
#elif BAD_PLUGIN_CASE != NO_ENTRY
void register_ops(pipette::OpLibrary*) {}
#endif

#if BAD_PLUGIN_CASE == ABI_MISMATCH
constexpr uint32_t kAbi = 999;
#else
constexpr uint32_t kAbi = PIPETTE_PLUGIN_ABI_VERSION;
#endif

#if BAD_PLUGIN_CASE == FINGERPRINT_MISMATCH
constexpr const char* kFingerprint = "pipette-0.0 abi-1 gcc-4 libstdc++-cxx11abi0 libtorch-0.4";
#else
constexpr const char* kFingerprint = PIPETTE_BUILD_FINGERPRINT;
#endif

}  // namespace

#if BAD_PLUGIN_CASE == NO_ENTRY
extern "C" __attribute__((visibility("default"))) int pipette_plugin_something_else(void) { return 42; }
#else
extern "C" __attribute__((visibility("default"))) const PipettePluginDescriptor* pipette_plugin_descriptor(void) {
  static const PipettePluginDescriptor d = {kAbi, sizeof(PipettePluginDescriptor), kFingerprint, "bad",
                                            "0.0.1", "fails to load on purpose", &register_ops};
  return &d;
}
#endif
