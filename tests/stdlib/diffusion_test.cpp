// diffusion.*: the noise schedules against their closed forms, the samplers and
// DDIM inversion against the exact noise predictor of Gaussian data, and a
// short real training run.
#include <fmt/format.h>

#include <cmath>

#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib_fixture.hpp"

namespace pipette {
namespace {

class Diffusion : public Stdlib {
 protected:
  // The optimal noise predictor when the data (in [-1, 1] space) is
  // N(mu, s^2) per pixel: E[eps | x_t] = sqrt(1 - a)(x_t - sqrt(a) mu) / (a s^2 + 1 - a).
  // With it the samplers must reproduce the data distribution.
  void save_gaussian_oracle(double mu, double s, int64_t T = 1000) {
    torch::jit::Module m("GaussianOracle");
    m.register_buffer("alphas_cumprod", stdlib::noise_schedule("linear", T).to(at::kFloat));
    m.register_attribute("timesteps", c10::IntType::get(), T);
    m.register_attribute("image_channels", c10::IntType::get(), int64_t{1});
    m.register_attribute("image_size", c10::IntType::get(), int64_t{8});
    m.register_buffer("inp_weight", at::zeros({8, 1, 3, 3}));  // read for chunk sizing, as in pipette's UNet
    m.define(fmt::format(R"(
def forward(self, x, t):
    a = self.alphas_cumprod[t.long()].view([-1, 1, 1, 1])
    return torch.sqrt(1 - a) * (x - torch.sqrt(a) * {0}) / (a * {1} + 1 - a)
)",
                         mu, s * s));
    m.save((dir_ / "oracle.pt").string());
  }
};

TEST_F(Diffusion, LinearScheduleIsDdpms) {
  at::Tensor abar = stdlib::noise_schedule("linear", 1000);
  ASSERT_EQ(abar.size(0), 1000);
  EXPECT_NEAR(abar[0].item<double>(), 1 - 1e-4, 1e-12);
  double log_prod = 0;
  for (int i = 0; i < 1000; ++i) log_prod += std::log(1 - (1e-4 + (0.02 - 1e-4) * i / 999.0));
  EXPECT_NEAR(abar[999].item<double>(), std::exp(log_prod), 1e-12);
  EXPECT_LT(abar[999].item<double>(), 1e-4);  // the last step is noise
  // Scaled for shorter schedules: still ends in noise.
  EXPECT_LT(stdlib::noise_schedule("linear", 100)[99].item<double>(), 1e-3);
  // Short schedules: the scaled betas are capped below 1, so every noise level
  // is a number in (0, 1) and decreasing (10 steps gave NaN levels before).
  for (int64_t T : {2, 10, 20}) {
    at::Tensor short_abar = stdlib::noise_schedule("linear", T);
    EXPECT_TRUE(short_abar.isfinite().all().item<bool>()) << T;
    EXPECT_GT(short_abar.min().item<double>(), 0) << T;
    EXPECT_TRUE((short_abar.slice(0, 1) < short_abar.slice(0, 0, -1)).all().item<bool>()) << T;
  }
}

TEST_F(Diffusion, CosineScheduleTelescopes) {
  // prod (1 - beta_i) with beta_i = 1 - f(i+1)/f(i) is f(t+1)/f(0) until the cap.
  auto f = [](double t) { return std::pow(std::cos((t / 1000.0 + 0.008) / 1.008 * M_PI / 2), 2); };
  at::Tensor abar = stdlib::noise_schedule("cosine", 1000);
  for (int t : {0, 10, 250, 500, 900})
    EXPECT_NEAR(abar[t].item<double>(), f(t + 1) / f(0), 1e-9) << t;
  EXPECT_THROW(stdlib::noise_schedule("quadratic", 10), OpError);
}

TEST_F(Diffusion, LadderIsEvenAndEndsAtTheTop) {
  auto l = pipette::timestep_ladder(999, 50);
  ASSERT_EQ(l.size(), 50u);
  EXPECT_EQ(l.front(), 20);
  EXPECT_EQ(l.back(), 999);
  for (size_t i = 1; i < l.size(); ++i) EXPECT_GT(l[i], l[i - 1]);
  EXPECT_EQ(pipette::timestep_ladder(4, 10), (std::vector<int64_t>{1, 2, 3, 4}));  // no repeats
  EXPECT_EQ(pipette::timestep_ladder(200, 1), (std::vector<int64_t>{200}));
}

TEST_F(Diffusion, SamplersConvergeToGaussianData) {
  // Data N(0.2, 0.3^2) in [-1, 1] space is N(0.6, 0.15^2) as images. Both
  // samplers shrink the spread on coarse ladders (DDIM's known discretisation
  // error: 0.136 at 50 steps, as a NumPy transcription of the DDIM paper's
  // update also gives) and reach the data's with every timestep.
  save_gaussian_oracle(0.2, 0.3);
  auto e = run(R"(
let m = model.load("oracle.pt")
report "ddim50" = diffusion.sample(m, n=500, steps=50)
report "ddim" = diffusion.sample(m, n=500, steps=1000)
report "ddpm" = diffusion.sample(m, n=500, steps=1000, sampler="ddpm")
report "eta" = diffusion.sample(m, n=500, steps=1000, eta=0.5)
)");
  for (const char* name : {"ddim", "ddpm", "eta"}) {
    at::Tensor x = report(e, name);
    ASSERT_EQ(x.sizes(), (at::IntArrayRef{500, 1, 8, 8}));
    EXPECT_NEAR(x.mean().item<double>(), 0.6, 0.005) << name;
    EXPECT_NEAR(x.std().item<double>(), 0.15, 0.004) << name;
  }
  at::Tensor coarse = report(e, "ddim50");
  EXPECT_NEAR(coarse.mean().item<double>(), 0.6, 0.005);
  EXPECT_NEAR(coarse.std().item<double>(), 0.136, 0.003);
}

TEST_F(Diffusion, InversionRoundTrips) {
  // Uniform images on [0.25, 0.75] are [-0.5, 0.5] in model space: std 0.5/sqrt(3).
  save_gaussian_oracle(0.0, 0.5 / std::sqrt(3.0));
  at::Tensor images = at::rand({16, 1, 8, 8}, at::kFloat) * 0.5 + 0.25;
  save(images, "x.pt");
  auto e = run(R"(
let m = model.load("oracle.pt")
let x = tensor.load("x.pt")
let z = diffusion.invert(m, x, steps=200)
report "z" = z
report "back" = diffusion.sample(m, noise=z, steps=200)
report "back50" = diffusion.sample(m, noise=diffusion.invert(m, x, steps=50), steps=50)
report "fresh" = diffusion.sample(m, n=16, size=8, steps=200)
)");
  at::Tensor z = report(e, "z"), fresh = report(e, "fresh");
  // Inversion's one approximation (the next step's noise prediction) fades with the step size.
  double err = (report(e, "back") - images).abs().max().item<double>();
  double err50 = (report(e, "back50") - images).abs().max().item<double>();
  double unrelated = (fresh - images).abs().mean().item<double>();
  EXPECT_LT(err, 0.01);
  EXPECT_LT(err, err50 / 2);
  EXPECT_GT(unrelated, 0.05);
  // The images have the data's spread, so their noise is about standard normal.
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.1);
}

TEST_F(Diffusion, PurificationPullsTowardsTheDataAsTGrows) {
  save_gaussian_oracle(0.0, 0.1);  // data: grey 0.5 images, little spread
  at::Tensor images = at::full({8, 1, 8, 8}, 0.9f);
  save(images, "x.pt");
  auto e = run(R"(
let m = model.load("oracle.pt")
let x = tensor.load("x.pt")
report "t0" = diffusion.purify(m, x, t=0.0)
report "t1" = diffusion.purify(m, x, t=0.1)
report "t3" = diffusion.purify(m, x, t=0.3)
report "t6" = diffusion.purify(m, x, t=0.6)
)");
  EXPECT_TRUE(at::equal(report(e, "t0"), images));
  double d1 = (report(e, "t1") - images).abs().mean().item<double>();
  double d3 = (report(e, "t3") - images).abs().mean().item<double>();
  double d6 = (report(e, "t6") - images).abs().mean().item<double>();
  EXPECT_GT(d1, 0.01);
  EXPECT_LT(d1, d3);
  EXPECT_LT(d3, d6);
  EXPECT_NEAR(report(e, "t6").mean().item<double>(), 0.5, 0.1);  // at 0.6 the image is mostly forgotten
}

TEST_F(Diffusion, TrainsAUNetThatPythonCanLoad) {
  auto e = run(R"(
let images = data.subset(data.fashion_mnist(), count=256).images
let d = diffusion.train(images, size=16, steps=120, batch=16, width=8, timesteps=200, seed=1)
report "losses" = d.losses
report "loss" = d.loss
save(d.model, "unet.pt")
report "samples" = diffusion.sample(d.model, n=4, steps=10)
report "big" = diffusion.purify(d.model, data.subset(data.fashion_mnist(), count=2).images, t=0.1, steps=3)
)");
  at::Tensor losses = report(e, "losses");
  ASSERT_EQ(losses.size(0), 120);
  // The zero-initialised output predicts no noise: the first loss is about 1.
  EXPECT_NEAR(losses.slice(0, 0, 5).mean().item<double>(), 1.0, 0.15);
  EXPECT_LT(report(e, "loss").item<double>(), 0.5);
  at::Tensor samples = report(e, "samples");
  EXPECT_EQ(samples.sizes(), (at::IntArrayRef{4, 1, 16, 16}));
  EXPECT_GE(samples.min().item<double>(), 0.0);
  EXPECT_LE(samples.max().item<double>(), 1.0);
  EXPECT_EQ(report(e, "big").sizes(), (at::IntArrayRef{2, 1, 28, 28}));  // any size: the UNet is convolutional

  torch::jit::Module m = torch::jit::load((dir_ / "out" / "unet.pt").string());
  EXPECT_EQ(m.attr("timesteps").toInt(), 200);
  EXPECT_EQ(m.attr("image_size").toInt(), 16);
  EXPECT_EQ(m.attr("alphas_cumprod").toTensor().size(0), 200);
  at::Tensor out = m.forward({at::zeros({2, 1, 16, 16}), at::full({2}, 5.0)}).toTensor();
  EXPECT_EQ(out.sizes(), (at::IntArrayRef{2, 1, 16, 16}));
  EXPECT_TRUE(out.isfinite().all().item<bool>());
}

TEST_F(Diffusion, BadInputsSayWhatIsWrong) {
  save_linear(at::ones({2, 64}), at::zeros({2}));
  save_gaussian_oracle(0.0, 0.5);
  save(at::full({2, 1, 8, 8}, 2.0f), "bright.pt");
  save(at::rand({2, 3, 8, 8}), "rgb.pt");
  EXPECT_NE(run_errors("report \"x\" = diffusion.sample(model.load(\"linear.pt\"), n=2)")
                .find("the model is not a diffusion model: it has no 'alphas_cumprod' (train one with diffusion.train)"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = diffusion.invert(model.load(\"oracle.pt\"), tensor.load(\"bright.pt\"))")
                .find("images must lie in [0, 1], found values in [2, 2]"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = diffusion.purify(model.load(\"oracle.pt\"), tensor.load(\"rgb.pt\"))")
                .find("images have 3 channels; the diffusion model was trained on 1"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = diffusion.sample(model.load(\"oracle.pt\"), noise=tensor.load(\"rgb.pt\"))")
                .find("noise must be [N, 1, H, W], found [2, 3, 8, 8]"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = diffusion.train(tensor.load(\"rgb.pt\"), size=10)")
                .find("size must be a multiple of 4 (two halvings), found 10"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = diffusion.train(tensor.load(\"rgb.pt\"), width=12)")
                .find("width must be a positive multiple of 8, found 12"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
