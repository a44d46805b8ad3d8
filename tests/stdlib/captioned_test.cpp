// data.captioned: every caption word is true of its image, checked from the
// pixels (colour, position, scale, pattern), and the tokenizer's round trip
// and errors.
#include "tests/stdlib/stdlib_fixture.hpp"

#include "stdlib/data/captioned.hpp"

namespace pipette {
namespace {

using stdlib::Captioned;
using stdlib::CaptionedConfig;

class CaptionedData : public Stdlib {
 protected:
  at::Tensor garments() {
    Execution e = run("report \"x\" = data.fashion_mnist(split=\"test\", limit=600).images\n"
                      "report \"y\" = data.fashion_mnist(split=\"test\", limit=600).labels\n");
    labels_ = report(e, "y");
    return report(e, "x");
  }
  at::Tensor labels_;
};

TEST_F(CaptionedData, EveryCaptionWordIsTrueOfItsImage) {
  CaptionedConfig c;
  c.classes = stdlib::fashion_mnist_words();
  at::Generator gen = at::detail::createCPUGenerator(7);
  at::Tensor x = garments();
  Captioned d = stdlib::make_captioned(x, labels_, c, gen);
  int64_t n = x.size(0), s = c.size;
  ASSERT_EQ(d.images.sizes(), (std::vector<int64_t>{n, 3, s, s}));
  EXPECT_GE(d.images.min().item<double>(), 0);
  EXPECT_LE(d.images.max().item<double>(), 1);

  // Colour: the mean RGB of the garment's bright pixels is nearest its colour.
  at::Tensor bright = d.images.amax(1) > 0.2;  // [N, S, S]
  at::Tensor weight = bright.unsqueeze(1).to(at::kFloat);
  at::Tensor rgb = (d.images * weight).sum({2, 3}) / weight.sum({2, 3}).clamp_min(1);  // [N, 3]
  std::vector<double> flat;
  for (const auto& name : c.colours)
    for (const auto& [pname, v] : stdlib::palette())
      if (pname == name) flat.insert(flat.end(), v.begin(), v.end());
  at::Tensor palette = at::tensor(flat, at::kDouble).to(at::kFloat).view({-1, 3});
  at::Tensor normalised = rgb / rgb.amax(1, true).clamp_min(1e-6);
  at::Tensor nearest = at::cdist(normalised, palette / palette.amax(1, true)).argmin(1);
  EXPECT_EQ(nearest.eq(d.colour).sum().item<int64_t>(), n) << "a colour word that the pixels do not show";

  // Position: the bright pixels' centroid is on the captioned side.
  at::Tensor cols = at::arange(s, at::kFloat).view({1, 1, -1});
  at::Tensor cx = (bright.to(at::kFloat) * cols).sum({1, 2}) / bright.sum({1, 2}).clamp_min(1);
  at::Tensor left = d.position.eq(0);
  EXPECT_TRUE((cx.masked_select(left) < s / 2.0).all().item<bool>());
  EXPECT_TRUE((cx.masked_select(left.logical_not()) > s / 2.0).all().item<bool>());

  // Scale: a small garment fits its 7-pixel box; a large one reaches past it
  // (all of it drawn counts, dim parts included).
  at::Tensor drawn = d.images.amax(1) > 0.01;
  at::Tensor any_row = drawn.any(2), any_col = drawn.any(1);  // [N, S]
  at::Tensor extent = at::maximum(any_row.sum(1), any_col.sum(1));
  at::Tensor small = d.scale.eq(0);
  EXPECT_TRUE((extent.masked_select(small) <= 7).all().item<bool>());
  EXPECT_GE((extent.masked_select(small.logical_not()) >= 8).to(at::kFloat).mean().item<double>(), 0.95);

  // Pattern: intensity on the stripes' (and checks') "on" pixels against their "off" ones.
  at::Tensor yy = at::arange(s, at::kLong).view({-1, 1}).expand({s, s});
  at::Tensor xx = at::arange(s, at::kLong).view({1, -1}).expand({s, s});
  at::Tensor stripe_on = (yy.div(2, "floor") % 2).eq(0), check_on = ((yy.div(2, "floor") + xx.div(2, "floor")) % 2).eq(0);
  at::Tensor lum = d.images.amax(1);
  auto ratio = [&](const at::Tensor& on) {
    at::Tensor m = on.unsqueeze(0).to(at::kFloat);
    at::Tensor in = bright.to(at::kFloat) + (lum > 0.05).to(at::kFloat);  // the garment, dim parts included
    at::Tensor g = (in > 0).to(at::kFloat);
    return ((lum * m * g).sum({1, 2}) / (m * g).sum({1, 2}).clamp_min(1)) /
           ((lum * (1 - m) * g).sum({1, 2}) / ((1 - m) * g).sum({1, 2}).clamp_min(1)).clamp_min(1e-6);
  };
  at::Tensor rs = ratio(stripe_on), rc = ratio(check_on);
  at::Tensor guess = at::where(rs > 1.6, at::ones_like(d.pattern), at::where(rc > 1.6, at::full_like(d.pattern, 2),
                                                                           at::zeros_like(d.pattern)));
  EXPECT_GE(guess.eq(d.pattern).to(at::kFloat).mean().item<double>(), 0.95);

  // Tokens: the caption says exactly the drawn attributes, in the grammar's order.
  std::vector<std::string> captions = stdlib::detokenize(d.tokens, d.vocab);
  for (int64_t i = 0; i < n; ++i) {
    std::string want = "a " + c.scales[d.scale[i].item<int64_t>()] + " " + c.colours[d.colour[i].item<int64_t>()] +
                       " " + c.patterns[d.pattern[i].item<int64_t>()] + " " +
                       c.classes[labels_[i].item<int64_t>()] + " on the " + c.positions[d.position[i].item<int64_t>()];
    ASSERT_EQ(captions[static_cast<size_t>(i)], want) << i;
  }
  // Each value drawn about equally often.
  for (int64_t k = 0; k < 4; ++k) EXPECT_NEAR(d.colour.eq(k).sum().item<double>() / n, 0.25, 0.07) << k;
}

TEST_F(CaptionedData, LeftOutAttributesLeaveCaptionsAndImages) {
  CaptionedConfig c;
  c.classes = stdlib::fashion_mnist_words();
  c.patterns = {};
  c.positions = {};
  c.scales = {"large"};
  at::Generator gen = at::detail::createCPUGenerator(1);
  at::Tensor x = garments().slice(0, 0, 20);
  Captioned d = stdlib::make_captioned(x, labels_.slice(0, 0, 20), c, gen);
  EXPECT_EQ(d.tokens.size(1), 4);  // a large COLOUR CLASS
  std::vector<std::string> caps = stdlib::detokenize(d.tokens, d.vocab);
  EXPECT_EQ(caps[0].rfind("a large ", 0), 0u) << caps[0];
  EXPECT_EQ(caps[0].find(" on the "), std::string::npos) << caps[0];
  EXPECT_EQ(std::find(d.vocab.begin(), d.vocab.end(), "on"), d.vocab.end());
}

TEST_F(CaptionedData, TheOpIsSeededAndTheTokenizerRoundTrips) {
  const std::string head = "let c = data.captioned(data.fashion_mnist(split=\"test\", limit=50), size=16, seed=";
  const std::string rest = R"()
report "images" = c.data.images
report "colour" = c.data.colour
report "tokens" = c.data.tokens
report "prompt" = data.tokenize(["a small red striped dress on the left", "a dress"], c.vocab, length=8)
report "back" = data.tokenize(data.captions(c.data.tokens, c.vocab), c.vocab, length=8)
)";
  auto with_seed = [&](int seed) { return run(head + std::to_string(seed) + rest); };
  Execution a = with_seed(1), b = with_seed(1), other = with_seed(2);
  EXPECT_TRUE(report(a, "images").equal(report(b, "images")));
  EXPECT_FALSE(report(a, "colour").equal(report(other, "colour")));
  EXPECT_TRUE(report(a, "back").equal(report(a, "tokens")));
  at::Tensor prompt = report(a, "prompt");
  ASSERT_EQ(prompt.sizes(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(prompt[1].slice(0, 2).sum().item<int64_t>(), 0);  // "a dress" padded
  EXPECT_NE(run_errors("let c = data.captioned(data.fashion_mnist(split=\"test\", limit=5))\n"
                       "report \"p\" = data.tokenize(\"a red dres\", c.vocab)\n")
                .find("the word 'dres' in \"a red dres\" is not in the vocabulary (nearest: 'dress'"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"c\" = data.captioned(data.fashion_mnist(split=\"test\", limit=5), "
                       "colours=[\"red\", \"gren\"]).vocab\n")
                .find("no colour 'gren'; did you mean 'green'?"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"c\" = data.captioned(data.fashion_mnist(split=\"test\", limit=5), "
                       "classes=[\"a\", \"b\"]).vocab\n")
                .find("but there are 2 class words"),
            std::string::npos);
}

TEST_F(CaptionedData, ASecondSetReadsTheFirstVocabularyAndWordsDropOut) {
  // A vocabulary with purple, a set drawn only in purple that uses it, and
  // knowledge-free prompts in bulk.
  Execution e = run(R"(let all = data.captioned(data.fashion_mnist(split="test", limit=20), colours=["red", "purple"], seed=1)
let only = data.captioned(data.fashion_mnist(split="test", limit=20), colours=["purple"], vocab=all.vocab, seed=2)
report "tokens" = only.data.tokens
report "as_all" = data.tokenize(data.captions(only.data.tokens, all.vocab), all.vocab, length=8)
report "dropped" = data.drop_words(data.tokenize(["a small red striped dress on the left", "a red bag"], all.vocab, length=8), all.vocab, ["red", "left"])
report "want" = data.tokenize(["a small striped dress on the", "a bag"], all.vocab, length=8)
)");
  EXPECT_TRUE(report(e, "tokens").equal(report(e, "as_all"))) << "the second set's ids are not the vocabulary's";
  EXPECT_TRUE(report(e, "dropped").equal(report(e, "want"))) << report(e, "dropped");
  EXPECT_NE(run_errors("let all = data.captioned(data.fashion_mnist(split=\"test\", limit=5))\n"
                       "report \"c\" = data.captioned(data.fashion_mnist(split=\"test\", limit=5), "
                       "colours=[\"purple\"], vocab=all.vocab).vocab\n")
                .find("the caption word 'purple' is not in vocab"),
            std::string::npos);
  EXPECT_NE(run_errors("let all = data.captioned(data.fashion_mnist(split=\"test\", limit=5))\n"
                       "report \"d\" = data.drop_words(data.tokenize(\"a red dress\", all.vocab), all.vocab, \"crimson\")\n")
                .find("the word 'crimson' in \"crimson\" is not in the vocabulary"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
