// tensor.*: loading, creating and combining tensors.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_tensor(OpRegistry& r) {
  r.add(OpSignature("tensor.load", "Reads a tensor from a .pt file written by torch.save, or from a .npy file.")
            .input("path", "string", "File to read; relative paths are relative to the script")
            .compile_time()
            .returns("tensor"));
  r.add(OpSignature("tensor.random", "A tensor of random numbers. Seeded from the run seed and the node's identity.")
            .input("shape", "list<int>", "Sizes of each dimension")
            .compile_time()
            .param("distribution", "string", Operand::string("normal"), "normal: N(0, 1); uniform: U[0, 1)")
            .choices({"normal", "uniform"})
            .optional("seed", "int", "Overrides the derived seed")
            .returns("tensor"));
  for (auto [name, doc] : {std::pair{"add", "Element-wise a + b, with broadcasting."},
                           std::pair{"sub", "Element-wise a - b, with broadcasting."},
                           std::pair{"mul", "Element-wise a * b, with broadcasting."},
                           std::pair{"div", "Element-wise a / b, with broadcasting."}}) {
    r.add(OpSignature(std::string("tensor.") + name, doc)
              .input("a", "tensor|float", "Left operand")
              .input("b", "tensor|float", "Right operand")
              .returns("tensor"));
  }
  for (auto [name, doc] : {std::pair{"sum", "Sum over a dimension, or over all elements."},
                           std::pair{"mean", "Mean over a dimension, or over all elements."},
                           std::pair{"max", "Maximum over a dimension, or over all elements."}}) {
    r.add(OpSignature(std::string("tensor.") + name, doc)
              .input("x", "tensor", "Input")
              .optional("dim", "int", "Dimension to reduce; none reduces everything")
              .returns("tensor"));
  }
}

}  // namespace pipette::stdlib
