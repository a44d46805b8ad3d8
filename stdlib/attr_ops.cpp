// attr.*: attribution methods, named and parameterised as in Captum.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {
OpSignature& common(OpSignature& s) {
  return s.input("model", "model", "The classifier to explain")
      .input("inputs", "tensor", "Inputs to explain, batched along the first dimension")
      .optional("target", "int|tensor", "Output index to explain: one for all, or one per example");
}
}  // namespace

void register_attr(OpLibrary& lib) {
  OpSignature saliency("attr.saliency", "Gradient of the target output with respect to the inputs (Simonyan et al.).");
  common(saliency).param("abs", "bool", Operand::boolean(true), "Take absolute values, as Captum does by default");
  lib.declare(saliency.returns("tensor", "Attributions, shaped like inputs"));

  OpSignature ig("attr.integrated_gradients",
                 "Integrated Gradients (Sundararajan et al., 2017): the path integral of gradients from a "
                 "baseline to the input.");
  common(ig)
      .param("baselines", "float|tensor", Operand::real(0.0), "Reference input: a scalar fill or a tensor")
      .param("steps", "int", Operand::integer(50), "Points on the path")
      .range(1)
      .param("method", "string", Operand::string("gausslegendre"), "Quadrature rule")
      .choices({"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"});
  lib.declare(ig.returns("tensor", "Attributions, shaped like inputs"));
}

}  // namespace pipette::stdlib
