// attr.sobol with planted ground truth: a model that reads one grid cell gets
// a total-order index near 1 there and exactly 0 in every other cell; a model
// that multiplies two cells' masks gets each the analytic index of a product
// of two uniforms, E[X2^2] Var(X1) / Var(X1 X2) = 4/7.
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Sobol : public Stdlib {};

TEST_F(Sobol, FindsThePlantedCellAndOnlyIt) {
  // logits [sum of rows 4..7, columns 8..11, 0]: cell (1, 2) of an 8 x 8 grid on 32 x 32.
  save_module("cell.pt", {},
              "def forward(self, x):\n    s = torch.sum(x[:, :, 4:8, 8:12], [1, 2, 3])\n"
              "    return torch.stack([s, torch.zeros_like(s)], 1)\n");
  save(at::rand({2, 1, 32, 32}, at::kDouble) + 0.5, "x.pt");
  auto e = run("report \"s\" = attr.sobol(model.load(\"cell.pt\"), tensor.load(\"x.pt\"), target=0, interpolate=\"none\")\n"
               "report \"up\" = attr.sobol(model.load(\"cell.pt\"), tensor.load(\"x.pt\"), target=0)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor s = report(e, "s");
  ASSERT_EQ(s.sizes(), (at::IntArrayRef{2, 1, 8, 8}));
  at::Tensor others = s.clone();
  others.select(2, 1).select(2, 2).zero_();
  EXPECT_EQ(others.abs().max().item<double>(), 0.0);
  EXPECT_NEAR(s[0][0][1][2].item<double>(), 1.0, 0.15);
  EXPECT_NEAR(s[1][0][1][2].item<double>(), 1.0, 0.15);
  at::Tensor up = report(e, "up");
  ASSERT_EQ(up.sizes(), (at::IntArrayRef{2, 1, 32, 32}));
  EXPECT_EQ(up[0][0].argmax().item<int64_t>() / 32 / 4, 1);      // the brightest pixel's cell row
  EXPECT_EQ(up[0][0].argmax().item<int64_t>() % 32 / 4, 2);      // and column
}

TEST_F(Sobol, AProductOfTwoCellsHasTheAnalyticIndices) {
  // f = mean(cell (0, 0)) * mean(cell (1, 1)) of ones: the product of the two masks.
  save_module("product.pt", {},
              "def forward(self, x):\n    p = torch.mean(x[:, :, 0:4, 0:4], [1, 2, 3]) * torch.mean(x[:, :, 4:8, 4:8], [1, 2, 3])\n"
              "    return torch.stack([p, torch.zeros_like(p)], 1)\n");
  save(at::ones({1, 1, 8, 8}, at::kDouble), "ones.pt");
  auto e = run("report \"s\" = attr.sobol(model.load(\"product.pt\"), tensor.load(\"ones.pt\"), target=0, grid=2, "
               "designs=1024, interpolate=\"none\")\n");
  ASSERT_TRUE(e.ok());
  at::Tensor s = report(e, "s")[0][0];
  EXPECT_NEAR(s[0][0].item<double>(), 4.0 / 7.0, 0.02);
  EXPECT_NEAR(s[1][1].item<double>(), 4.0 / 7.0, 0.02);
  EXPECT_EQ(s[0][1].item<double>(), 0.0);
  EXPECT_EQ(s[1][0].item<double>(), 0.0);
}

TEST_F(Sobol, DesignsArePowersOfTwo) {
  save_module("cell.pt", {}, "def forward(self, x):\n    return torch.flatten(x, 1)[:, 0:2]\n");
  save(at::rand({1, 1, 8, 8}), "x.pt");
  EXPECT_NE(run_errors("report \"s\" = attr.sobol(model.load(\"cell.pt\"), tensor.load(\"x.pt\"), target=0, designs=24)\n")
                .find("designs=24 must be a power of two"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
