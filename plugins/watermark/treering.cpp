#include "treering.hpp"

#include <boost/math/distributions/non_central_chi_squared.hpp>
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace watermark {

namespace {

// The centred 2-D spectrum of the last two dimensions.
at::Tensor centred_fft(const at::Tensor& x) { return at::fft_fftshift(at::fft_fft2(x), at::IntArrayRef{-2, -1}); }

at::Tensor radius_grid(int64_t size) {
  at::Tensor i = at::arange(size, at::kDouble) - static_cast<double>(size / 2);
  return at::sqrt(i.view({-1, 1}).pow(2) + i.view({1, -1}).pow(2));
}

void check_latents(const at::Tensor& z, const RingKey& key) {
  int64_t s = key.mask.size(0);
  if (z.dim() != 4 || z.size(2) != s || z.size(3) != s)
    throw std::invalid_argument(
        fmt::format("the noise must be [N, C, {}, {}] for this key, found [{}]", s, s, fmt::join(z.sizes(), ", ")));
  if (key.channel >= z.size(1))
    throw std::invalid_argument(
        fmt::format("the key is in channel {} but the noise has {} channels", key.channel, z.size(1)));
}

}  // namespace

RingKey make_ring_key(int64_t size, int64_t radius, int64_t channel, at::Generator gen) {
  if (size < 4) throw std::invalid_argument(fmt::format("the key needs a size of at least 4, found {}", size));
  if (radius < 1 || radius > size / 2)
    throw std::invalid_argument(fmt::format("radius must be in [1, {}] for size {}, found {}", size / 2, size, radius));
  at::Tensor r = radius_grid(size);
  RingKey key;
  key.channel = channel;
  key.mask = r.lt(static_cast<double>(radius));
  // Ring k holds the frequencies at distance [k, k+1) from the centre.
  at::Tensor ring = r.floor().to(at::kLong).clamp_max(radius - 1);
  at::Tensor magnitude = (at::randn({radius, 2}, gen, at::kDouble) * (static_cast<double>(size) / std::sqrt(2.0)))
                             .norm(2, {1})
                             .index({ring});
  // Phases: random in one half of the plane, negated on the mirror image
  // (centre c, frequency (c+u, c+v) <-> (c-u, c-v)), 0 at the centre.
  at::Tensor phase = at::rand({size, size}, gen, at::kDouble) * (2 * M_PI);
  auto ph = phase.accessor<double, 2>();
  int64_t c = size / 2;
  for (int64_t i = 1; i < size; ++i)
    for (int64_t j = 1; j < size; ++j)
      if (i > c || (i == c && j > c)) ph[2 * c - i][2 * c - j] = -ph[i][j];
  ph[c][c] = 0;
  at::Tensor zero = at::zeros_like(r);
  key.real = at::where(key.mask, magnitude * at::cos(phase), zero).to(at::kFloat);
  key.imag = at::where(key.mask, magnitude * at::sin(phase), zero).to(at::kFloat);
  return key;
}

at::Tensor RingKey::complex() const { return at::complex(real.to(at::kDouble), imag.to(at::kDouble)); }

at::Tensor plant_rings(const at::Tensor& noise, const RingKey& key) {
  check_latents(noise, key);
  at::Tensor z = noise.to(at::kFloat).clone();
  at::Tensor spectrum = centred_fft(z.select(1, key.channel).to(at::kDouble));
  at::Tensor planted = at::where(key.mask, key.complex(), spectrum);
  // The key is Hermitian like the spectrum of any real image, so the inverse
  // stays real (its imaginary part is rounding).
  z.select(1, key.channel).copy_(at::real(at::fft_ifft2(at::fft_ifftshift(planted, at::IntArrayRef{-2, -1}))));
  return z;
}

RingScores ring_scores(const at::Tensor& latents, const RingKey& key) {
  check_latents(latents, key);
  at::Tensor spectrum = centred_fft(latents.to(at::kDouble).select(1, key.channel)).flatten(1);  // [N, S*S]
  // One of each conjugate pair: the spectrum of real noise is Hermitian, so
  // the other half repeats it and would double-count in the test.
  int64_t s = key.mask.size(0), c = s / 2;
  at::Tensor row = at::arange(s, at::kLong).view({-1, 1}).expand({s, s});
  at::Tensor col = at::arange(s, at::kLong).view({1, -1}).expand({s, s});
  at::Tensor m = (key.mask & (row.gt(c) | (row.eq(c) & col.ge(c)))).flatten();
  at::Tensor y = spectrum.index({at::indexing::Slice(), m});  // [N, |M|]
  at::Tensor k = key.complex().flatten().index({m});
  RingScores out;
  out.distance = (y - k).abs().mean(1).to(at::kFloat);  // (the mean over a half is the mean over the whole)
  // The null's variance from the frequencies outside the key (per image): an
  // estimate independent of the tested coefficients, and the same whether or
  // not the key is there.
  at::Tensor outside = spectrum.index({at::indexing::Slice(), key.mask.flatten().logical_not()});
  at::Tensor sigma2 = outside.abs().pow(2).mean(1);
  at::Tensor eta = (y - k).abs().pow(2).sum(1) / (sigma2 / 2);
  at::Tensor lambda = k.abs().pow(2).sum() / (sigma2 / 2);
  auto dof = static_cast<double>(2 * m.sum().item<int64_t>());
  std::vector<float> scores;
  for (int64_t i = 0; i < latents.size(0); ++i) {
    boost::math::non_central_chi_squared dist(dof, lambda[i].item<double>());
    scores.push_back(static_cast<float>(1.0 - boost::math::cdf(dist, eta[i].item<double>())));
  }
  out.score = at::tensor(scores, at::kFloat);
  return out;
}

}  // namespace watermark
