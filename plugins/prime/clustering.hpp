// The clustering baseline's two clusterers, on LibTorch tensors: k-means
// (k-means++ seeding, Lloyd iterations) and a Gaussian mixture with diagonal
// covariances fitted by EM from the k-means solution.
#pragma once

#include <ATen/ATen.h>

namespace prime {

// x [n, d] float64 -> cluster of each row, int64 [n] in [0, k). n >= k >= 1.
at::Tensor kmeans(const at::Tensor& x, int64_t k, int64_t iterations, at::Generator gen);
at::Tensor gaussian_mixture(const at::Tensor& x, int64_t k, int64_t iterations, at::Generator gen);

}  // namespace prime
