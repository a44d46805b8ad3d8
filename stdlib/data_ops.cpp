// data.*: data sets that ship with Debian, and tensors from files.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_data(OpRegistry& r) {
  r.add(OpSignature("data.fashion_mnist",
                    "Fashion-MNIST from Debian's dataset-fashion-mnist (idx files under "
                    "/usr/share/datasets/fashion-mnist). Images are float in [0, 1], shape [N, 1, 28, 28].")
            .param("split", "string", Operand::string("train"), "train (60,000 images) or test (10,000)")
            .choices({"train", "test"})
            .optional("limit", "int", "Keep only the first LIMIT examples")
            .range(1)
            .param("root", "string", Operand::string("/usr/share/datasets/fashion-mnist"), "Directory of the idx files")
            .compile_time()
            .returns("record{images: tensor, labels: tensor}", "images [N,1,28,28] float, labels [N] int64"));
}

}  // namespace pipette::stdlib
