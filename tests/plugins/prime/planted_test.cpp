// PRIME on real data: a failure mode planted in a Fashion-MNIST CNN by
// relabelling part of its training set is found, exactly, and holds on the
// test split; a model whose errors are uniformly random has none.
#include "prime_fixture.hpp"

namespace pipette {
namespace {

bool have_fashion_mnist() { return fs::exists("/usr/share/datasets/fashion-mnist"); }

// Trains on 30,000 training images in which the trousers (class 1) that are
// high-contrast and symmetric were relabelled as dresses (class 3) when RELABEL
// is true; extracts failure modes on 10,000 training images it did not see and
// measures them on the test split. The plant uses a looser cut of the same tags
// (fraction 0.4) than the search (0.25), so the searched group lies well inside
// the region the model learnt to get wrong.
std::string planted_script(bool relabel) {
  return std::string(
             "let all_train = data.fashion_mnist(split=\"train\")\n"
             "let train_set = data.subset(all_train, count=30000)\n"
             "let val = data.subset(all_train, start=50000, count=10000)\n"
             "let test = data.fashion_mnist(split=\"test\")\n"
             "let tags = prime.image_tags(train_set.images, fraction=0.25)\n"
             "let wider = prime.image_tags(train_set.images, fraction=0.4)\n"
             "let planted = prime.group(wider, train_set.labels, class=1, names=[\"high_contrast\", \"symmetric\"])\n") +
         "let labels = tensor.where(planted, " + (relabel ? "3" : "1") + ", train_set.labels)\n" +
         "let net = train.classifier(arch=\"cnn\", data=data.from_tensors({images: train_set.images, labels: labels}), "
         "epochs=2, seed=1).model\n"
         "let modes = prime.extract(prime.image_tags(val.images, like=tags), val.labels, model.predict(net, val))\n"
         "report \"modes\" = modes\n"
         "report \"held\" = prime.evaluate(modes, prime.image_tags(test.images, like=tags), test.labels, "
         "model.predict(net, test))\n";
}

TEST_F(Prime, APlantedFailureModeIsFoundExactlyAndHoldsOnTheTestSplit) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  Execution e = run(planted_script(true));
  Value modes = report(e, "modes");
  std::vector<int64_t> cls = ints(field(modes, "class"));
  std::vector<std::string> tags = strings(field(modes, "tags"));
  std::vector<std::string> trouser_modes;
  for (size_t i = 0; i < cls.size(); ++i)
    if (cls[i] == 1) trouser_modes.push_back(tags[i]);
  // The largest drop among the trousers is the planted pair itself...
  ASSERT_FALSE(trouser_modes.empty()) << "no failure mode among trousers";
  EXPECT_EQ(trouser_modes[0], "high_contrast & symmetric");
  // ...and no superset of it is reported (its tags are all needed, none is extra).
  for (const auto& t : trouser_modes) {
    if (t != trouser_modes[0]) {
      EXPECT_FALSE(t.find("high_contrast") != std::string::npos && t.find("symmetric") != std::string::npos) << t;
    }
  }
  // It holds on the test split.
  Value held = field(report(e, "held"), "modes");
  std::vector<std::string> held_tags = strings(field(held, "tags"));
  std::vector<int64_t> held_cls = ints(field(held, "class"));
  size_t row = 0;
  while (row < held_tags.size() && !(held_cls[row] == 1 && held_tags[row] == "high_contrast & symmetric")) ++row;
  ASSERT_LT(row, held_tags.size());
  EXPECT_TRUE(field(held, "holds").toListRef()[row].toBool());
  EXPECT_GE(ints(field(held, "support"))[row], 30);
  EXPECT_GE(floats(field(held, "drop"))[row], 0.4);

  // The same training without the relabelling: no such failure mode.
  Execution control = run(planted_script(false));
  Value plain = report(control, "modes");
  std::vector<int64_t> plain_cls = ints(field(plain, "class"));
  std::vector<std::string> plain_tags = strings(field(plain, "tags"));
  for (size_t i = 0; i < plain_cls.size(); ++i)
    EXPECT_FALSE(plain_cls[i] == 1 && plain_tags[i] == "high_contrast & symmetric");
}

TEST_F(Prime, UniformlyRandomErrorsAreNoFailureMode) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  Value y = report(run("report \"y\" = data.fashion_mnist(split=\"test\").labels\n"), "y");
  at::Tensor labels = y.toTensor();
  // 15 % of the predictions wrong, chosen uniformly at random whatever the image shows.
  at::Generator gen = at::detail::createCPUGenerator(11);
  at::Tensor wrong = at::rand({labels.size(0)}, gen) < 0.15;
  at::Tensor other = (labels + at::randint(1, 10, {labels.size(0)}, gen, at::kLong)).remainder(10);
  save(at::where(wrong, other, labels), "pred.pt");
  Execution e = run("let test = data.fashion_mnist(split=\"test\")\n"
                    "report \"modes\" = prime.extract(prime.image_tags(test.images), test.labels, tensor.load(\"pred.pt\"))\n");
  EXPECT_TRUE(strings(field(report(e, "modes"), "tags")).empty());
}

}  // namespace
}  // namespace pipette
