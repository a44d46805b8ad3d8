// The common image distortions of the WAVES benchmark, applied to a batch of
// images [N, C, H, W] in [0, 1]; each returns images of the same shape.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace watermark {

// `kind` and what `strength` means for it:
//   jpeg        quality 1..100 (a real JPEG encode and decode, 8-bit)
//   blur        Gaussian sigma in pixels
//   noise       Gaussian noise standard deviation (images in [0, 1])
//   brightness  factor (1 = unchanged), as torchvision's adjust_brightness
//   contrast    factor (1 = unchanged), as torchvision's adjust_contrast
//   rotation    degrees, counter-clockwise, about the centre (corners filled black)
//   crop        the fraction of each side kept around the centre, resized back
//   resize      the scale the image is shrunk to and brought back from
// Throws std::invalid_argument for an unknown kind or a strength out of range.
at::Tensor distort(const at::Tensor& images, const std::string& kind, double strength, at::Generator gen);

const std::vector<std::string>& distortion_kinds();

}  // namespace watermark
