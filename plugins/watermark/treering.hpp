// Tree-Ring (Wen et al., NeurIPS 2023): a watermark in a diffusion model's
// initial noise. The key is a set of concentric rings of constant magnitude
// written into the centred Fourier transform of one channel of the noise;
// sampling turns the noise into an image, and detection inverts the image back
// to its noise (DDIM inversion, diffusion.invert) and asks how close the noise's
// Fourier coefficients inside the rings are to the key.
//
// Here the diffusion model works in pixel space (pipette's own), so the rings
// sit in the pixel noise rather than a latent's. Each keyed frequency also gets
// a random phase, mirrored so that the spectrum stays Hermitian: the planted
// noise is then exactly real and holds the key exactly, and the key's
// coefficients look like a noise image's (complex). Rings of real values (what
// Tree-Ring's code keeps after taking the real part) would make any marked
// image stand out under every key: a real spectrum is itself the signature.
#pragma once

#include <ATen/ATen.h>

namespace watermark {

struct RingKey {
  at::Tensor mask;        // [S, S] bool: the frequencies inside `radius` of the centre
  at::Tensor real, imag;  // [S, S] float: the key's coefficients (0 outside the mask), Hermitian
  int64_t channel = 0;
  at::Tensor complex() const;  // real + i imag, complex double
};

// Rings of radius 0 .. radius-1 around the centre of an S x S centred
// spectrum, each with the magnitude of one complex Gaussian of variance S*S
// (that of a standard normal image's unnormalised Fourier coefficients), and
// a random phase per frequency (0 at the centre, mirrored: phi(-f) = -phi(f)).
RingKey make_ring_key(int64_t size, int64_t radius, int64_t channel, at::Generator gen);

// Standard normal noise [N, C, S, S] with the key written into channel
// key.channel's spectrum. Throws std::invalid_argument on a size mismatch.
at::Tensor plant_rings(const at::Tensor& noise, const RingKey& key);

struct RingScores {
  at::Tensor score;     // [N] 1 - p-value: near 1 when the rings are there, uniform on [0, 1] when not
  at::Tensor distance;  // [N] Tree-Ring's L1 distance: mean |F(z) - key| over the mask
};

// Scores inverted noise [N, C, S, S] against the key. Under the null (no
// watermark) the masked coefficients y (one of each conjugate pair) are
// complex Gaussian with variance sigma^2, estimated per image from the
// frequencies outside the mask (Tree-Ring estimates it from y itself, which
// made the test conservative here: 2.3 % of unmarked noise above 0.95, not 5 %),
// so eta = sum |key - y|^2 / (sigma^2 / 2) follows a non-central chi-square
// with 2|M| degrees of freedom and non-centrality sum |key|^2 / (sigma^2 / 2);
// the p-value is its CDF at eta (Tree-Ring's test).
RingScores ring_scores(const at::Tensor& latents, const RingKey& key);

}  // namespace watermark
