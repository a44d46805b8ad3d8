// train.*: training classifiers, as TorchScript modules.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/script.h>

#include <set>

#include "engine/dataset.hpp"
#include "engine/hook_points.hpp"
#include "engine/trained_params.hpp"
#include "stdlib/model/architectures.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

constexpr int64_t kScanBatch = 4096;

// Classes = largest label + 1, read a chunk at a time (datasets are lazy).
int64_t count_classes(const Dataset& d) {
  int64_t top = 0;
  for (int64_t i = 0; i < d.size(); i += kScanBatch)
    top = std::max(top, select_path(d.slice(i, i + kScanBatch), {"labels"}).toTensor().max().item<int64_t>());
  return top + 1;
}

// Accuracy of `m` on the examples `idx` of `d`, in batches, without gradients.
double accuracy(torch::jit::Module& m, const Dataset& d, const at::Tensor& idx, c10::Device device) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  const std::string field = model_input_field(d);
  for (int64_t i = 0; i < idx.size(0); i += kScanBatch) {
    Value b = d.gather(idx.slice(0, i, i + kScanBatch));
    at::Tensor x = select_path(b, {field}).toTensor().to(device);
    at::Tensor y = select_path(b, {"labels"}).toTensor().to(device);
    correct += logits_of(m, x).argmax(1).eq(y).sum().item<int64_t>();
  }
  return idx.size(0) ? static_cast<double>(correct) / static_cast<double>(idx.size(0)) : 0.0;
}

constexpr const char* kTrainingData =
    "dataset{images: tensor, labels: tensor}|dataset{features: tensor, labels: tensor}";

// The training loop both ops share: ARCH built from the data's shape, or a copy of MODEL.
Value train_classifier(const OpArgs& a, OpContext& ctx) {
  DatasetPtr data = a.dataset("data");
  at::Generator gen = ctx.generator();
  int64_t n = data->size();
  if (n == 0) throw OpError("the training set is empty");

  at::Tensor order = at::randperm(n, gen, at::kLong);
  DatasetPtr validation = a.is_none("validation") ? data : a.dataset("validation");
  at::Tensor train_idx = order, val_idx;
  if (a.is_none("validation")) {
    int64_t held = static_cast<int64_t>(std::llround(a.float_("holdout") * static_cast<double>(n)));
    if (held >= n) throw OpError(fmt::format("holdout leaves no training examples of {}", n));
    val_idx = order.slice(0, 0, held);
    train_idx = order.slice(0, held, n);
  } else {
    val_idx = at::arange(validation->size(), at::kLong);
  }

  torch::jit::Module m;
  if (a.is_none("model")) {
    ArchShape shape;
    at::Tensor first = select_path(data->slice(0, 1), {model_input_field(*data)}).toTensor();
    shape.input.assign(first.sizes().begin() + 1, first.sizes().end());
    shape.classes = a.int_("classes") > 0 ? a.int_("classes") : count_classes(*data);
    m = build_architecture(a.string("arch"), shape, gen);
    m.to(ctx.device);
  } else {
    // The input model stays as it was. Copied without autograd, so that
    // the copy's parameters are leaves the optimizer can own.
    torch::NoGradGuard no_grad;
    m = clone_model(model_arg(a, "model", ctx.device));
  }
  // The module's own parameter tensors: the optimizer updates them in place.
  TrainedParameters chosen = train_only(m, trained_parameters(m, a));
  c10::List<std::string> trained_list;
  for (const auto& path : chosen.paths) trained_list.push_back(path);
  std::vector<at::Tensor>& params = chosen.tensors;
  torch::optim::Adam opt(params, torch::optim::AdamOptions(a.float_("lr")));

  int64_t batch = a.int_("batch"), epochs = a.int_("epochs");
  int64_t steps_per_epoch = (train_idx.size(0) + batch - 1) / batch;
  std::vector<double> losses;
  const std::string field = model_input_field(*data);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    at::Tensor shuffled = train_idx.index_select(0, at::randperm(train_idx.size(0), gen, at::kLong));
    double total = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      if (ctx.cancelled()) throw OpError("cancelled");
      Value b = data->gather(shuffled.slice(0, s * batch, (s + 1) * batch));
      at::Tensor x = select_path(b, {field}).toTensor().to(ctx.device);
      at::Tensor y = select_path(b, {"labels"}).toTensor().to(ctx.device, at::kLong);
      at::Tensor loss = at::cross_entropy_loss(logits_of(m, x), y);
      if (!std::isfinite(loss.item<double>()))
        throw OpError(fmt::format("the loss became {} at epoch {}, step {}: lower lr (now {})",
                                  loss.item<double>(), epoch + 1, s + 1, a.float_("lr")));
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item<double>();
      ctx.progress(static_cast<uint64_t>(epoch * steps_per_epoch + s + 1),
                   static_cast<uint64_t>(epochs * steps_per_epoch));
    }
    losses.push_back(total / static_cast<double>(steps_per_epoch));
    ctx.log(OpContext::Info, fmt::format("epoch {}/{}: mean loss {:.4f}", epoch + 1, epochs, losses.back()));
  }
  m.eval();
  double acc = accuracy(m, *validation, val_idx, ctx.device);
  ctx.log(OpContext::Info, fmt::format("held-out accuracy {:.4f} on {} examples", acc, val_idx.size(0)));
  m.to(at::kCPU);  // trained models travel on the CPU; ops move them where they run
  return make_record({{"model", Value(m._ivalue())},
                      {"accuracy", Value(acc)},
                      {"loss", Value(losses.back())},
                      {"losses", Value(at::tensor(losses, at::kDouble).to(at::kFloat))},
                      {"trained", Value(trained_list)}});
}

// What train.classifier and train.finetune both take: optimisation, held-out
// examples, parameters by path, and what they return.
OpSignature& training_params(OpSignature& s) {
  return s
      .param("epochs", "int", Operand::integer(1), "Passes over the data")
      .range(1)
      .param("lr", "float", Operand::real(1e-3), "Learning rate")
      .range(0)
      .param("batch", "int", Operand::integer(64), "Examples per step")
      .range(1)
      .param("holdout", "float", Operand::real(0.1), "Share of DATA held out for accuracy (without VALIDATION)")
      .range(0.0, 0.9)
      .optional("validation", "dataset", "Held-out examples for accuracy, instead of a share of DATA")
      .optional("params", "list<string>",
                "Train only the parameters whose paths match one of these patterns (* matches anything, dots "
                "included: \"head.*\", \"*.attn.*\"); the others stay bitwise as they were, and modules "
                "with none trained run in eval mode (batch-norm statistics kept, dropout off)")
      .optional("seed", "int", "Overrides the derived seed (initialisation and shuffling)")
      .stochastic()
      .returns("record{model: model, accuracy: float, loss: float, losses: tensor, trained: list<string>}",
               "the trained model, its held-out accuracy, the last epoch's mean loss, each epoch's, and the "
               "paths of the parameters it trained");
}

}  // namespace

void register_train(OpLibrary& lib) {
  OpSignature classifier("train.classifier",
                         "Trains a classifier with Adam and cross-entropy on shuffled mini-batches: one of pipette's "
                         "architectures (TorchScript, opens in Python with torch.jit.load), or a given model, "
                         "fine-tuned. Accuracy is measured on held-out examples.",
                         3);  // 2: models carry the `training` flag; 3: `trained` lists the parameters trained
  classifier.param("arch", "string", Operand::string("cnn"), "mlp, cnn or resnet")
      .choices({"mlp", "cnn", "resnet"})
      .input("data", kTrainingData, "Training examples: images, or tabular features (data.csv)")
      .optional("model", "model", "Fine-tune this model instead of building ARCH (it is copied, not changed)")
      .param("classes", "int", Operand::integer(0), "Number of classes; 0 = largest label + 1")
      .range(0);
  lib.define(training_params(classifier), train_classifier);

  OpSignature finetune("train.finetune",
                       "Fine-tunes a classifier (any model returning logits: loaded, or trained by pipette) with "
                       "Adam and cross-entropy, as train.classifier(model=): the input model is copied, not "
                       "changed; params= limits training to parameters by path (\"head.*\", \"blocks.3.*\").");
  finetune.input("model", "model", "The model to fine-tune")
      .input("data", kTrainingData, "Training examples: images, or tabular features (data.csv)");
  lib.define(training_params(finetune), train_classifier);
}

}  // namespace pipette::stdlib
