// The standard library's op signatures without the standard library: what
// `check`, `graph`, `fmt`, `lsp`, `ops` and `editors` compile against, so that
// they start without loading LibTorch (issue 28). The signatures are the
// stdlib's own, written out at build time (dump_builtin_signatures.cpp);
// `Signatures.BuiltinsFromTheBuildEqualTheStdlibs` holds them equal.
#pragma once

#include "engine/op_registry.hpp"

namespace pipette::stdlib {

// Parsed once, on first use; thread-safe.
const OpRegistry& builtin_signatures();

// The LibTorch version the build was made with ("1.13.0"), for --version.
const char* builtin_libtorch_version();
// The runtime's plugin build fingerprint (engine/plugin_loader.hpp's
// host_fingerprint()), which the plugin registry cache is keyed by.
const char* builtin_host_fingerprint();

}  // namespace pipette::stdlib
