// metric.*: explanation quality metrics, named as in Quantus.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_metric(OpLibrary& lib) {
  lib.declare(OpSignature("metric.deletion",
                    "Deletion curve AUC (pixel flipping): remove the most relevant features first and "
                    "track the target score. Lower is better.")
            .input("model", "model", "The classifier")
            .input("inputs", "tensor", "Inputs")
            .input("attributions", "tensor", "Attributions for the inputs")
            .optional("target", "int|tensor", "Output index per example")
            .param("steps", "int", Operand::integer(20), "Points on the curve")
            .range(1)
            .returns("float", "Mean area under the deletion curve"));
}

}  // namespace pipette::stdlib
