// What the engine libraries export. Everything is built with hidden visibility
// (plugins must not bind to a host's internals by accident, nor the host to a
// plugin's); the declarations marked PIPETTE_API are the ABI that the host, the
// standard library and plugins share through libpipette_engine/libpipette_runtime.
// Exception classes must be exported too: a plugin's `throw OpError` is caught by
// the host only when both see one type_info.
#pragma once

#define PIPETTE_API __attribute__((visibility("default")))
