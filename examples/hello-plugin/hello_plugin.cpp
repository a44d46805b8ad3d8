// A small plugin: one op on strings, one on tensors that honours the context
// (device, cancellation). Built against the installed SDK only.
#include "engine/plugin_api.hpp"

namespace {

using pipette::OpArgs;
using pipette::OpContext;
using pipette::Operand;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Value;

void register_hello(pipette::OpLibrary& lib) {
  lib.define(OpSignature("hello.greet", "Greets someone by name.")
                 .param("who", "string", Operand::string("world"), "Whom to greet")
                 .returns("string", "The greeting"),
             [](const OpArgs& a, OpContext&) -> Value { return Value("hello, " + a.string("who") + "!"); });

  lib.define(OpSignature("hello.scale", "Multiplies a tensor by a factor, on the run's device.")
                 .input("x", "tensor", "Any tensor")
                 .param("factor", "float", Operand::real(2.0), "What to multiply by")
                 .range(-1e6, 1e6)
                 .returns("tensor", "x * factor"),
             [](const OpArgs& a, OpContext& ctx) -> Value {
               double factor = a.float_("factor");
               if (factor == 0) throw OpError("factor 0 would erase the tensor; pick another");
               return Value(a.tensor("x").to(ctx.device) * factor);
             });
}

}  // namespace

PIPETTE_PLUGIN("hello", "0.1.0", "An example plugin: greetings and scaled tensors", register_hello)
