// model.*: TorchScript models, loaded and run.
#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>

#include "engine/dataset.hpp"
#include "stdlib/attr/attribution.hpp"
#include "engine/run_report.hpp"
#include "engine/hook_points.hpp"
#include "engine/model_file.hpp"
#include "engine/model_output.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// A model traced (torch.jit.trace) in training mode has dropout and batch
// norm's training flag baked into its graph as constants: eval() cannot turn
// them off, and its predictions match neither mode. Names the first such op.
std::optional<std::string> traced_in_training_mode(const torch::jit::Module& m) {
  auto train_input = [](const torch::jit::Node* node) -> int {
    std::string kind = node->kind().toQualString();
    if (kind == "aten::dropout" || kind == "aten::dropout_" || kind == "aten::feature_dropout" ||
        kind == "aten::alpha_dropout" || kind == "aten::feature_alpha_dropout")
      return 2;
    if (kind == "aten::batch_norm") return 5;
    return -1;
  };
  std::function<std::optional<std::string>(torch::jit::Block*)> scan = [&](torch::jit::Block* block) -> std::optional<std::string> {
    for (torch::jit::Node* node : block->nodes()) {
      int i = train_input(node);
      if (i >= 0 && static_cast<size_t>(i) < node->inputs().size()) {
        auto flag = torch::jit::toIValue(node->inputs()[static_cast<size_t>(i)]);
        if (flag && flag->isBool() && flag->toBool()) return std::string(node->kind().toQualString());
      }
      for (torch::jit::Block* b : node->blocks())
        if (auto found = scan(b)) return found;
    }
    return std::nullopt;
  };
  // Only a module that was itself in training mode when traced: batch norm
  // without running statistics, or dropout kept on deliberately (MC dropout),
  // trace as training=True in eval mode too and are what the user meant.
  for (const torch::jit::Module& sub : m.modules()) {
    auto forward = sub.find_method("forward");
    if (!forward || !sub.hasattr("training") || !sub.is_training()) continue;
    if (auto found = scan(forward->graph()->block())) return found;
  }
  return std::nullopt;
}

}  // namespace

void register_model(OpLibrary& lib) {
  register_model_hooks(lib);
  lib.define(OpSignature("model.load", "Loads a model: a TorchScript module (torch.jit.save) or a program from "
                                       "torch.export.save (.pt2), run with gradients and hook points alike.")
                 .input("path", "string", "The .pt (TorchScript) or .pt2 (torch.export) file")
                 .input_file()
                 .optional("output", "string|int",
                           "For a model returning a tuple or dict: the output ops read (a position, or a key: "
                           "output=0, output=\"logits\")")
                 .optional("args", "list|record",
                           "Extra arguments of forward after the input, the same for every example: a list "
                           "(args=[mask]) or a record by name (args={scale: 0.5})")
                 .returns("model"),
             [](const OpArgs& a, OpContext& ctx) {
               auto path = ctx.input_path(a.string("path"));
               std::error_code ec;
               if (!std::filesystem::is_regular_file(path, ec)) throw OpError("cannot open '" + path.string() + "': no such file");
               torch::jit::Module m = load_model_file(path.string());
               if (std::string what = exported_program_summary(m); !what.empty())
                 ctx.log(OpContext::Info, "'" + a.string("path") + "': a program " + what);
               if (std::string op = exported_in_training_mode(m); !op.empty())
                 throw OpError("'" + path.string() + "' was exported in training mode: its " + op +
                               " runs with training=True fixed in the program, so its outputs depend on the batch "
                               "or on chance; call model.eval() before torch.export.export and save again");
               if (auto op = traced_in_training_mode(m))
                 throw OpError("'" + path.string() + "' was traced in training mode: its graph runs " + *op +
                               " with training=True fixed when it was traced, so eval mode cannot turn it off and its "
                               "outputs match neither mode; call model.eval() before torch.jit.trace and save again");
               if (m.hasattr("training") && m.is_training())
                 ctx.log(OpContext::Info, "the model was saved in training mode; it runs in eval mode (dropout off, "
                                          "batch norm on its running statistics)");
               if (a.is_none("output") && a.is_none("args"))
                 check_single_output(m, a.string("path"));
               else
                 m = with_output(m, a["output"], a["args"], a.string("path"));
               // Inference and attribution run in eval mode, as Captum users call model.eval() first.
               m.eval();
               return Value(m._ivalue());
             });

  lib.define(OpSignature("model.bind",
                         "A model whose forward(x) is this model's forward(x, *args)[output]: extra arguments "
                         "fixed for every example and one output picked from a tuple or dict, as Captum users wrap "
                         "forward in a lambda (model.load takes the same args= and output=). Hook paths stay "
                         "those of the model.")
                 .input("model", "model", "A model whose forward takes more than the input, or returns several outputs")
                 .optional("args", "list|record",
                           "Extra arguments of forward after the input: a list (args=[t]) or a record by name")
                 .optional("output", "string|int", "The output ops read: a position or a dict key")
                 .returns("model"),
             [](const OpArgs& a, OpContext&) {
               torch::jit::Module m = model_arg(a, "model");
               if (is_output_wrapper(m))
                 throw OpError("the model already has its arguments and output bound (by model.load or "
                               "model.bind); give all of them in one call");
               if (a.is_none("output") && a.is_none("args"))
                 throw OpError("model.bind needs args= or output= (or both)");
               torch::jit::Module bound = with_output(m, a["output"], a["args"], "the model");
               bound.eval();
               return Value(bound._ivalue());
             });

  lib.define(OpSignature("model.predict",
                         "Runs the model on inputs in batches and returns its outputs (e.g. logits). A dataset is "
                         "read a batch at a time; its `images` field (or `features`, for tabular data) is the input.")
                 .input("model", "model", "The model")
                 .input("inputs", "tensor|dataset{images: tensor}|dataset{features: tensor}",
                        "Inputs batched along the first dimension, or a dataset (its images, or features for tabular data)")
                 .feeds("model")
                 .param("batch", "int", Operand::integer(256), "Examples per forward pass")
                 .range(1)
                 .returns("tensor"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               return Value(batched(a, ctx, [&](const at::Tensor& x) { return logits_of(m, x); }));
             });

  // How often a classifier gets inputs right: what a probe says of generated
  // images (the "CLIP score" of text-to-image papers, measured by a model whose
  // accuracy on real images is known), or a model's accuracy on a test set.
  lib.define(OpSignature("model.accuracy",
                         "The share of INPUTS a classifier labels as LABELS, and its mean softmax probability of "
                         "them. LABELS: one for all, one per input, or one per group of consecutive inputs (P labels "
                         "for the P prompts of a sampler's images, N each); none = the dataset's labels.")
                 .input("model", "model", "A classifier (one score per class)")
                 .input("inputs", "tensor|dataset{images: tensor}|dataset{features: tensor}",
                        "Inputs batched along the first dimension, or a dataset")
                 .optional("labels", "int|list<int>|tensor", "The right class of each input (see above)")
                 .feeds("model")
                 .param("batch", "int", Operand::integer(256), "Examples per forward pass")
                 .range(1)
                 .returns("record{accuracy: float, probability: float, predictions: tensor, correct: tensor}",
                          "accuracy and mean probability of the labels in [0, 1]; each input's predicted class "
                          "[N] (int64) and whether it is right [N] (bool)"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor probs = batched(a, ctx, [&](const at::Tensor& x) {
                 return class_probabilities(m, x).to(at::kCPU);
               });
               int64_t n = probs.size(0);
               at::Tensor labels;
               if (!a.is_none("labels")) {
                 labels = labels_per_row(a, "labels", n);
               } else if (is_dataset(a["inputs"]) && a.dataset("inputs")->has_field("labels")) {
                 labels = a.dataset("inputs")->column("labels").to(at::kLong).reshape({-1});
               } else {
                 throw OpError("no labels: give LABELS, or a dataset with a `labels` field");
               }
               ClassifierVerdict v = classifier_verdict(probs, labels);
               return make_record({{"accuracy", Value(v.correct.to(at::kDouble).mean().item<double>())},
                                   {"probability", Value(v.probability.to(at::kDouble).mean().item<double>())},
                                   {"predictions", Value(v.predictions)},
                                   {"correct", Value(v.correct)}});
             });

}

}  // namespace pipette::stdlib
