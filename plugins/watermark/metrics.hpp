// How well a detector separates watermarked from clean images, and what an
// attack costs in image quality. Conventions of the paper (Saberi et al.):
// a detector says "watermarked" when its score is >= a threshold; evasion error
// = watermarked images judged clean (1 - TPR), spoofing error = clean images
// judged watermarked (FPR).
#pragma once

#include <ATen/ATen.h>

namespace watermark {

struct Roc {
  at::Tensor threshold;  // [T] every distinct score, ascending, then +inf (nothing flagged)
  at::Tensor tpr, fpr;   // [T]
  double auroc = 0;      // P(score_w > score_c) + P(tie) / 2 (Mann-Whitney)
  double tpr_at_1pct = 0, tpr_at_01pct = 0;  // the best TPR with FPR <= 1 % / 0.1 %
};

// scores of watermarked (positives) and clean (negatives) images, 1-D.
Roc roc(const at::Tensor& watermarked, const at::Tensor& clean);
double tpr_at_fpr(const Roc& r, double max_fpr);

// Per image [N]: PSNR in dB for images in [0, 1] (+inf for identical images),
// and SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2
// 0.03, data range 1; the mean over channels and valid window positions).
at::Tensor psnr(const at::Tensor& a, const at::Tensor& b);
at::Tensor ssim(const at::Tensor& a, const at::Tensor& b);

}  // namespace watermark
