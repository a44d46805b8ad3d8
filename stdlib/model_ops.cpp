// model.* and train.*: TorchScript models, loaded or trained.
#include <ATen/ATen.h>
#include <torch/script.h>

#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

torch::jit::Module module_of(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  if (!v.isObject()) throw OpError("'" + name + "' must be a model, got " + describe(v));
  return torch::jit::Module(v.toObject());
}

}  // namespace

void register_model(OpLibrary& lib) {
  lib.define(OpSignature("model.load", "Loads a TorchScript module saved with torch.jit.save.")
                 .input("path", "string", "The .pt file")
                 .input_file()
                 .returns("model"),
             [](const OpArgs& a, OpContext& ctx) {
               auto path = ctx.input_path(a.string("path"));
               try {
                 torch::jit::Module m = torch::jit::load(path.string());
                 m.eval();
                 return Value(m._ivalue());
               } catch (const c10::Error& e) {
                 throw OpError("cannot load TorchScript model '" + path.string() +
                               "': " + e.what_without_backtrace() + " (export it with torch.jit.script or trace)");
               }
             });

  lib.define(OpSignature("model.predict", "Runs the model on inputs in batches and returns its outputs (e.g. logits).")
                 .input("model", "model", "The model")
                 .input("inputs", "tensor", "A batch of inputs")
                 .param("batch", "int", Operand::integer(256), "Examples per forward pass")
                 .range(1)
                 .returns("tensor"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = module_of(a, "model");
               at::Tensor x = a.tensor("inputs");
               int64_t batch = a.int_("batch");
               torch::NoGradGuard no_grad;
               std::vector<at::Tensor> outs;
               for (int64_t i = 0; i < x.size(0); i += batch) {
                 if (ctx.cancelled()) throw OpError("cancelled");
                 Value y = m.forward({x.slice(0, i, std::min(i + batch, x.size(0)))});
                 if (!y.isTensor()) throw OpError("the model returned " + describe(y) + ", not a tensor");
                 outs.push_back(y.toTensor());
               }
               if (outs.empty()) throw OpError("no inputs to predict on");
               return Value(at::cat(outs, 0));
             });

  lib.declare(OpSignature("train.classifier",
                          "Trains one of pipette's architectures as a classifier with Adam and cross-entropy.")
                  .param("arch", "string", Operand::string("cnn"), "mlp, cnn or resnet")
                  .choices({"mlp", "cnn", "resnet"})
                  .input("data", "dataset{images: tensor, labels: tensor}", "Training examples")
                  .param("epochs", "int", Operand::integer(1), "Passes over the data")
                  .range(1)
                  .param("lr", "float", Operand::real(1e-3), "Learning rate")
                  .range(0)
                  .param("batch", "int", Operand::integer(64), "Examples per step")
                  .range(1)
                  .optional("seed", "int", "Overrides the derived seed (initialisation and shuffling)")
                  .stochastic()
                  .returns("model"));
}

}  // namespace pipette::stdlib
