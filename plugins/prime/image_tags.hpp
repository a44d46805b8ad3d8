// Tags computed from the pixels themselves, so PRIME works on any image set
// without a tagging model: each measured property (brightness, contrast,
// object size, aspect, edge density, symmetry, colourfulness) is cut at two
// quantiles into a "low" and a "high" tag (dark / bright, small / large...).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace prime {

struct ImageProperty {
  std::string name;  // e.g. "brightness"
  std::string low;   // tag for the lowest values, e.g. "dark"
  std::string high;  // tag for the highest values, e.g. "bright"
  std::string doc;
};

// The properties measured; colourfulness only for 3-channel images.
const std::vector<ImageProperty>& image_properties(bool colour);

// images [N, C, H, W] (C = 1 or 3, values in [0, 1]) -> [N, P] float64, one
// column per property in image_properties(C == 3) order.
at::Tensor image_measurements(const at::Tensor& images);

// Cut points [P, 2]: the `fraction` and 1 - `fraction` quantiles of each column.
at::Tensor quantile_cuts(const at::Tensor& measurements, double fraction);

// bool [N, 2P]: for property p, column 2p = value < cuts[p][0] (low tag),
// column 2p + 1 = value > cuts[p][1] (high tag).
at::Tensor cut(const at::Tensor& measurements, const at::Tensor& cuts);

}  // namespace prime
