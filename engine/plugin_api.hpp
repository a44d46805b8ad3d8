// Everything a plugin's source includes. A plugin defines ops exactly as the
// standard library does (OpLibrary::define) and names itself once:
//
//   #include "engine/plugin_api.hpp"
//   static void register_ops(pipette::OpLibrary& lib) {
//     lib.define(pipette::OpSignature("hello.greet", "Greets someone.")
//                    .param("who", "string", pipette::Operand::string("world"), "Whom to greet")
//                    .returns("string"),
//                [](const pipette::OpArgs& a, pipette::OpContext&) -> pipette::Value {
//                  return "hello, " + a.string("who");
//                });
//   }
//   PIPETTE_PLUGIN("hello", "0.1.0", "Greets people", register_ops)
//
// docs/plugins.md has the full guide and the ABI rules.
#pragma once

// The whole tensor API (operators, factories), as the standard library has it.
#include <ATen/ATen.h>

#include "engine/dataset.hpp"
#include "engine/op_library.hpp"
#include "engine/plugin_abi.hpp"

// Defines the plugin's entry point. Use once per plugin, at namespace scope.
// REGISTER is a function `void (pipette::OpLibrary&)`.
#define PIPETTE_PLUGIN(NAME, VERSION, DESCRIPTION, REGISTER)                                         \
  static void pipette_plugin_register_(pipette::OpLibrary* lib) { REGISTER(*lib); }                  \
  extern "C" __attribute__((visibility("default"))) const PipettePluginDescriptor*                  \
  pipette_plugin_descriptor(void) {                                                                  \
    static const PipettePluginDescriptor d = {PIPETTE_PLUGIN_ABI_VERSION, sizeof(PipettePluginDescriptor), \
                                              PIPETTE_BUILD_FINGERPRINT, NAME, VERSION, DESCRIPTION,       \
                                              &pipette_plugin_register_};                                  \
    return &d;                                                                                        \
  }
