// Which parameters a training op updates, chosen by path: what `params=` means
// for every training op (train.classifier, train.finetune, diffusion.train_text
// and the plugins' own), so that a pattern matches the same parameters in each.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <set>
#include <string>
#include <vector>

#include "engine/op_impl.hpp"

namespace pipette {

// Whether `pattern` (* for any run of characters, dots included) matches all of `s`.
PIPETTE_API bool glob_match(const std::string& pattern, const std::string& s);

// The paths (as parameters_by_path names them) of the parameters the
// list<string> argument `name` selects; every parameter when it is none. A
// pattern that matches nothing is an OpError listing the model's parameters.
PIPETTE_API std::set<std::string> trained_parameters(const torch::jit::Module& m, const OpArgs& a,
                                                     const std::string& name = "params");

// The paths of the parameters matching any of `patterns`; a pattern that
// matches nothing is an OpError that starts with `what` and lists them.
PIPETTE_API std::set<std::string> parameters_matching(const torch::jit::Module& m,
                                                      const std::vector<std::string>& patterns,
                                                      const std::string& what);

// The chosen parameters, as an optimizer takes them, and their paths.
struct TrainedParameters {
  std::vector<at::Tensor> tensors;
  std::vector<std::string> paths;
};

// Puts `m` in training mode for `trained` only: those parameters require
// gradients, every other one does not (and stays bitwise as it was), and a
// module none of whose parameters is trained runs in eval mode (batch-norm
// statistics kept, dropout off). Returns the trained ones in path order.
PIPETTE_API TrainedParameters train_only(torch::jit::Module& m, const std::set<std::string>& trained);

}  // namespace pipette
