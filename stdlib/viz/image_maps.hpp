// The (images, attributions) pair the attribution pictures take, checked once
// for viz.heatmap and viz.attribution.
#pragma once

#include <ATen/ATen.h>

#include <utility>

#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

// `images` and `attributions` on the CPU as `dtype`, [N, C, H, W] each (a
// [N, H, W] map gains its channel), with the same N, H and W; an OpError
// naming both shapes otherwise.
inline std::pair<at::Tensor, at::Tensor> images_and_maps(const OpArgs& a, at::ScalarType dtype) {
  at::Tensor img = a.tensor("images").detach().to(at::kCPU, dtype);
  at::Tensor attr = a.tensor("attributions").detach().to(at::kCPU, dtype);
  if (img.dim() == 3) img = img.unsqueeze(1);
  if (attr.dim() == 3) attr = attr.unsqueeze(1);
  if (img.dim() != 4 || attr.dim() != 4 || img.size(0) != attr.size(0) || img.size(2) != attr.size(2) ||
      img.size(3) != attr.size(3))
    throw OpError("images " + describe(Value(img)) + " and attributions " + describe(Value(attr)) +
                  " must be [N, C, H, W] with the same N, H and W");
  return {img, attr};
}

}  // namespace pipette::stdlib
