// model.* and train.*: TorchScript models, loaded or trained.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_model(OpRegistry& r) {
  r.add(OpSignature("model.load", "Loads a TorchScript module saved with torch.jit.save.")
            .input("path", "string", "The .pt file")
            .compile_time()
            .returns("model"));
  r.add(OpSignature("model.predict", "Runs the model on inputs in batches and returns its outputs (e.g. logits).")
            .input("model", "model", "The model")
            .input("inputs", "tensor", "A batch of inputs")
            .param("batch", "int", Operand::integer(256), "Examples per forward pass")
            .range(1)
            .returns("tensor"));
  r.add(OpSignature("train.classifier",
                    "Trains one of pipette's architectures as a classifier with Adam and cross-entropy.")
            .param("arch", "string", Operand::string("cnn"), "mlp, cnn or resnet")
            .choices({"mlp", "cnn", "resnet"})
            .input("data", "record{images: tensor, labels: tensor}", "Training examples")
            .param("epochs", "int", Operand::integer(1), "Passes over the data")
            .range(1)
            .param("lr", "float", Operand::real(1e-3), "Learning rate")
            .range(0)
            .param("batch", "int", Operand::integer(64), "Examples per step")
            .range(1)
            .optional("seed", "int", "Overrides the derived seed (initialisation and shuffling)")
            .returns("model"));
}

}  // namespace pipette::stdlib
