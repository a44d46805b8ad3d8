// model.*: TorchScript models, loaded and run.
#include <ATen/ATen.h>
#include <torch/script.h>

#include "engine/dataset.hpp"
#include "stdlib/attribution.hpp"
#include "stdlib/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// f over the `inputs` argument (a tensor or a dataset's images), `batch`
// examples at a time, without gradients, concatenated.
at::Tensor batched(const OpArgs& a, OpContext& ctx, const std::function<at::Tensor(const at::Tensor&)>& f) {
  int64_t batch = a.int_("batch");
  bool lazy = is_dataset(a["inputs"]);
  DatasetPtr d = lazy ? a.dataset("inputs") : DatasetPtr();
  at::Tensor x = lazy ? at::Tensor() : a.tensor("inputs");
  int64_t n = lazy ? d->size() : x.size(0);
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> outs;
  for (int64_t i = 0; i < n; i += batch) {
    if (ctx.cancelled()) throw OpError("cancelled");
    at::Tensor xb = lazy ? select_path(d->slice(i, i + batch), {"images"}).toTensor()
                         : x.slice(0, i, std::min(i + batch, n));
    outs.push_back(f(xb.to(ctx.device)));
    ctx.progress(static_cast<uint64_t>(std::min(i + batch, n)), static_cast<uint64_t>(n));
  }
  if (outs.empty()) throw OpError("no inputs to run the model on");
  return at::cat(outs, 0);
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

  lib.define(OpSignature("model.predict",
                         "Runs the model on inputs in batches and returns its outputs (e.g. logits). A dataset is "
                         "read a batch at a time; its `images` field is the input.")
                 .input("model", "model", "The model")
                 .input("inputs", "tensor|dataset", "Inputs batched along the first dimension, or a dataset")
                 .param("batch", "int", Operand::integer(256), "Examples per forward pass")
                 .range(1)
                 .returns("tensor"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               return Value(batched(a, ctx, [&](const at::Tensor& x) { return logits_of(m, x); }));
             });

  OpSignature activations("model.activations",
                          "The activation at a hook point for each input (e.g. embeddings for clustering): "
                          "layer(x), in batches; a dataset is read a batch at a time (its `images`).");
  activations.input("model", "model", "The model")
      .input("inputs", "tensor|dataset", "Inputs batched along the first dimension, or a dataset")
      .param("batch", "int", Operand::integer(256), "Examples per forward pass")
      .range(1);
  hook_params(activations).returns("tensor", "[N, ...]: what `layer` returns for each input");
  lib.define(activations, [](const OpArgs& a, OpContext& ctx) {
    HookPoint hook = hook_of(a, model_arg(a, "model", ctx.device));
    return Value(batched(a, ctx, [&](const at::Tensor& x) { return hook.activation(x); }));
  });
}

}  // namespace pipette::stdlib
