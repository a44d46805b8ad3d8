// What the engine checks about the values every op reads and returns, once,
// for every op, before and after it runs (GStreamer's caps, for pipette):
// NaN and Inf (an error unless the op's signature says it passes them), and
// the dtype of tensors fed to a model (ParamSpec::feeds).
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/value.hpp"

namespace pipette {

// Where a value holds NaN or Inf: the first tensor that does (by its path
// inside records and lists), how many of each, and the first element's index.
struct NonFinite {
  std::string path;  // "" for the value itself, ".images", "[2]"
  std::vector<int64_t> shape;
  int64_t nan = 0, inf = 0, total = 0;
  std::vector<int64_t> first;
};

// nullopt when every floating-point number in `v` is finite. Datasets are not
// read (they are checked where their examples become tensors).
PIPETTE_API std::optional<NonFinite> find_nonfinite(const Value& v);

// "1 NaN at [3, 0, 12, 4] (1 of 50176 values)", with the field when there is one.
PIPETTE_API std::string describe_nonfinite(const NonFinite& f);

// Images as ops take them: [N, C, H, W], floating point, in [0, 1] (within
// 1e-6), with one of `channels` channels (empty = any). An OpError naming
// `what` and what it found otherwise ("images must lie in [0, 1], found values
// in [0, 255] (divide 8-bit images by 255)"). The engine checks parameters
// declared with OpSignature::images; ops call it for images they make.
PIPETTE_API void check_images(const at::Tensor& x, const std::string& what, const std::vector<int64_t>& channels = {});

// The dtype of a model's floating-point parameters (or buffers); nullopt when
// it has none (then inputs are left as they are).
PIPETTE_API std::optional<at::ScalarType> model_dtype(const Value& model);

}  // namespace pipette
