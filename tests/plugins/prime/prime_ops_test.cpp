// The prime plugin's ops in scripts: tables, descriptions, files, held-out
// evaluation, tag sources, the clustering baseline, and bad input.
#include <torch/script.h>

#include "blocks.hpp"
#include "prime_fixture.hpp"

namespace pipette {
namespace {

using prime::Block;

at::Tensor bools(std::vector<int64_t> v) { return at::tensor(v, at::kLong).to(at::kBool); }

// Predictions that are right exactly where the table says (else the next class).
at::Tensor predictions(const prime::Table& t, int64_t classes) {
  return at::where(t.correct, t.labels, (t.labels + 1).remainder(classes));
}

// Class 1 ("Shirt") fails on images that are both dark and large; class 0 does fine.
prime::Table shirts() {
  return prime::table({
      {0, "000", 200, 190},
      {1, "110", 40, 4},
      {1, "111", 20, 2},
      {1, "100", 100, 95},
      {1, "010", 100, 95},
      {1, "001", 60, 57},
      {1, "000", 80, 76},
  });
}

class PrimeOps : public Prime {
 protected:
  void save_split(const prime::Table& t, const std::string& prefix) {
    save(t.tags.to(at::kFloat), prefix + "_tags.pt");
    save(t.labels, prefix + "_labels.pt");
    save(predictions(t, 2), prefix + "_pred.pt");
  }
  static std::string load_split(const std::string& prefix) {
    return "let " + prefix + "_tags = prime.tags(tensor.load(\"" + prefix + "_tags.pt\"), [\"dark\", \"large\", \"textured\"])\n"
           "let " + prefix + "_labels = tensor.load(\"" + prefix + "_labels.pt\")\n"
           "let " + prefix + "_pred = tensor.load(\"" + prefix + "_pred.pt\")\n";
  }
};

TEST_F(PrimeOps, ExtractWritesATableWithReadableDescriptions) {
  save_split(shirts(), "a");
  Execution e = run(load_split("a") +
                    "let modes = prime.extract(a_tags, a_labels, a_pred, classes=[\"T-shirt\", \"Shirt\"])\n"
                    "report \"modes\" = modes\n"
                    "save(modes, \"modes.csv\")\n");
  Value modes = report(e, "modes");
  EXPECT_EQ(strings(field(modes, "description")),
            std::vector<std::string>{"Shirt images that are dark and large: 60 images, accuracy 10 % vs 82 %"});
  EXPECT_EQ(strings(field(modes, "tags")), std::vector<std::string>{"dark & large"});
  EXPECT_EQ(ints(field(modes, "class")), std::vector<int64_t>{1});
  EXPECT_EQ(ints(field(modes, "support")), std::vector<int64_t>{60});
  EXPECT_NEAR(floats(field(modes, "drop")).at(0), 329.0 / 400 - 0.1, 1e-12);
  std::string csv = read("out/modes.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "class,class_name,tags,size,support,accuracy,class_accuracy,drop,description");
  EXPECT_NE(csv.find("1,Shirt,dark & large,2,60,0.1,0.8225,"), std::string::npos) << csv;
}

TEST_F(PrimeOps, EvaluateTellsModesThatGeneraliseFromModesThatDoNot) {
  prime::Table a = shirts();
  save_split(a, "a");
  save_split(a, "b");  // the same structure on another split
  prime::Table c = a;  // a split where the failure is gone: every image right but one per class
  c.correct = at::ones_like(a.correct);
  c.correct[0] = false;
  c.correct[250] = false;
  save_split(c, "c");
  Execution e = run(load_split("a") + load_split("b") + load_split("c") +
                    "let modes = prime.extract(a_tags, a_labels, a_pred)\n"
                    "report \"same\" = prime.evaluate(modes, b_tags, b_labels, b_pred)\n"
                    "report \"gone\" = prime.evaluate(modes, c_tags, c_labels, c_pred)\n");
  Value same = report(e, "same"), gone = report(e, "gone");
  EXPECT_EQ(field(same, "held").toDouble(), 1.0);
  EXPECT_NEAR(field(same, "mean_drop").toDouble(), field(same, "mean_train_drop").toDouble(), 1e-12);
  // The group holds 54 of the split's 81 errors (71 in class 1, 10 in class 0).
  EXPECT_NEAR(field(same, "coverage").toDouble(), 54.0 / 81.0, 1e-12);
  EXPECT_EQ(field(gone, "held").toDouble(), 0.0);
  EXPECT_FALSE(field(field(gone, "modes"), "holds").toListRef()[0].toBool());
  EXPECT_EQ(ints(field(field(gone, "modes"), "support")), std::vector<int64_t>{60});
}

TEST_F(PrimeOps, BadInputIsAClearErrorNotACrash) {
  prime::Table t = shirts();
  save_split(t, "a");
  save(t.labels.narrow(0, 0, 10), "short.pt");
  at::Tensor nan_scores = at::zeros({t.labels.size(0), 2});
  nan_scores[7][1] = std::nan("");
  save(nan_scores, "nan.pt");
  save(at::full({t.labels.size(0), 3}, 0.5), "half.pt");
  EXPECT_NE(run_errors(load_split("a") + "report \"m\" = prime.extract(a_tags, tensor.load(\"short.pt\"), a_pred)")
                .find("the tags describe 600 images but there are 10 labels"),
            std::string::npos);
  EXPECT_NE(run_errors(load_split("a") + "report \"m\" = prime.extract(a_tags, a_labels, tensor.load(\"nan.pt\"))")
                .find("input 'predictions' holds 1 NaN (first at [7, 1], of 1200 values)"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"t\" = prime.tags(tensor.load(\"half.pt\"), [\"a\", \"b\", \"c\"])")
                .find("must hold 0/1 (or true/false) values"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"t\" = prime.tags(tensor.load(\"a_tags.pt\"), [\"a\", \"b\", \"a\"])")
                .find("names the tag 'a' twice"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"t\" = prime.tags(tensor.load(\"a_tags.pt\"), [\"a\", \"b\"])")
                .find("has 3 tag columns but 2 names"),
            std::string::npos);
  EXPECT_NE(run_errors(load_split("a") + "report \"m\" = prime.extract(a_tags, a_labels, a_pred, classes=[\"x\"])")
                .find("'classes' names 1 classes but the labels and predictions use 2"),
            std::string::npos);
}

TEST_F(PrimeOps, ConstantTagsAreSkippedWithAWarningAndEmptyClassesAreSkipped) {
  prime::Table t = shirts();
  // A fourth tag on every image, a fifth on none; labels shifted so class 0 is empty.
  at::Tensor tags = at::cat({t.tags, at::ones({t.tags.size(0), 1}, at::kBool), at::zeros({t.tags.size(0), 1}, at::kBool)}, 1);
  save(tags, "tags.pt");
  save(t.labels + 1, "labels.pt");
  save(predictions(t, 2) + 1, "pred.pt");
  std::string logs;
  Execution e = run("let t = prime.tags(tensor.load(\"tags.pt\"), [\"dark\", \"large\", \"textured\", \"photo\", \"sketch\"])\n"
                    "report \"modes\" = prime.extract(t, tensor.load(\"labels.pt\"), tensor.load(\"pred.pt\"))\n",
                    &logs);
  EXPECT_NE(logs.find("2 tag(s) are the same for every image and cannot describe a failure mode; skipped: photo & sketch"),
            std::string::npos) << logs;
  EXPECT_NE(logs.find("1 class(es) without images or errors skipped"), std::string::npos) << logs;
  Value modes = report(e, "modes");
  EXPECT_EQ(strings(field(modes, "tags")), std::vector<std::string>{"dark & large"});
  EXPECT_EQ(strings(field(modes, "class_name")), std::vector<std::string>{"class 2"});
}

TEST_F(PrimeOps, NoModesGivesAnEmptyTableThatStillSaves) {
  prime::Table t = shirts();
  t.correct = at::ones_like(t.correct);
  save_split(t, "a");
  Execution e = run(load_split("a") + "let m = prime.extract(a_tags, a_labels, a_pred)\nreport \"m\" = m\nsave(m, \"m.csv\")\n");
  EXPECT_TRUE(ints(field(report(e, "m"), "support")).empty());
  EXPECT_EQ(read("out/m.csv"), "class,class_name,tags,size,support,accuracy,class_accuracy,drop,description\n");
}

TEST_F(PrimeOps, ReadsTagsFromCsvAndNamesTheBadCell) {
  write("tags.csv", "id,dark,large\nimg0,1,0\nimg1,true,false\nimg2,0,1\n");
  write("bad.csv", "dark,large\n1,0\n0,maybe\n");
  Execution e = run("report \"t\" = prime.read_tags(\"tags.csv\", skip=[\"id\"])\n");
  Value t = report(e, "t");
  EXPECT_EQ(strings(field(t, "names")), (std::vector<std::string>{"dark", "large"}));
  EXPECT_TRUE(field(t, "values").toTensor().equal(bools({1, 0, 1, 0, 0, 1}).view({3, 2})));
  std::string err = run_errors("report \"t\" = prime.read_tags(\"bad.csv\")\n");
  EXPECT_NE(err.find("bad.csv:3:2: 'maybe' in column 'large' is not 0/1 or true/false"), std::string::npos) << err;
}

TEST_F(PrimeOps, MergedTagsKeepEveryColumnAndRefuseClashingNames) {
  write("a.csv", "dark\n1\n0\n");
  write("b.csv", "large,wide\n1,1\n0,1\n");
  Value t = report(run("report \"t\" = prime.merge_tags([prime.read_tags(\"a.csv\"), prime.read_tags(\"b.csv\")])\n"), "t");
  EXPECT_EQ(strings(field(t, "names")), (std::vector<std::string>{"dark", "large", "wide"}));
  EXPECT_TRUE(field(t, "values").toTensor().equal(bools({1, 1, 1, 0, 0, 1}).view({2, 3})));
  EXPECT_NE(run_errors("report \"t\" = prime.merge_tags([prime.read_tags(\"a.csv\"), prime.read_tags(\"a.csv\")])\n")
                .find("names the tag 'dark' twice"),
            std::string::npos);
}

// Squares of known brightness, size and shape on a black background.
at::Tensor drawn_images() {
  at::Tensor x = at::zeros({12, 1, 32, 32});
  for (int64_t i = 0; i < 12; ++i) {
    double level = i < 4 ? 0.3 : i < 8 ? 0.6 : 0.95;       // dark, middle, bright
    int64_t shape = i % 4;                                   // tall, wide, small, large
    int64_t h = shape == 0 ? 20 : shape == 1 ? 6 : shape == 2 ? 8 : 24;
    int64_t w = shape == 0 ? 6 : shape == 1 ? 20 : shape == 2 ? 8 : 24;
    x[i][0].narrow(0, 16 - h / 2, h).narrow(1, 16 - w / 2, w).fill_(level);
  }
  return x;
}

TEST_F(PrimeOps, ImageTagsMeasureWhatTheImagesShow) {
  save(drawn_images(), "images.pt");
  Execution e = run("let x = tensor.load(\"images.pt\")\n"
                    "let t = prime.image_tags(x, fraction=0.3)\n"
                    "report \"t\" = t\n"
                    "report \"again\" = prime.image_tags(x, like=t)\n");
  Value t = report(e, "t");
  std::vector<std::string> names = strings(field(t, "names"));
  EXPECT_EQ(names, (std::vector<std::string>{"dark", "bright", "low_contrast", "high_contrast", "small", "large", "tall",
                                             "wide", "smooth", "textured", "asymmetric", "symmetric"}));
  at::Tensor v = field(t, "values").toTensor();
  auto column = [&](const std::string& n) {
    return v.select(1, std::find(names.begin(), names.end(), n) - names.begin());
  };
  at::Tensor idx = at::arange(12);
  EXPECT_TRUE(column("dark").equal(idx < 4));
  EXPECT_TRUE(column("bright").equal(idx >= 8));
  EXPECT_TRUE(column("tall").equal(idx.remainder(4) == 0));
  EXPECT_TRUE(column("wide").equal(idx.remainder(4) == 1));
  EXPECT_TRUE(column("small").equal(idx.remainder(4) == 2));
  EXPECT_TRUE(column("large").equal(idx.remainder(4) == 3));
  EXPECT_FALSE(column("asymmetric").any().item<bool>());  // every square is its own mirror image
  // Cut at the same thresholds, the same images get the same tags.
  EXPECT_TRUE(field(report(e, "again"), "values").toTensor().equal(v));
}

// shards=N measures the images in N parts and cuts once, at the quantiles of
// all of them: the same tags, cuts and measurements, bit for bit.
TEST_F(PrimeOps, ImageTagsShardedEqualUnsharded) {
  at::manual_seed(3);
  at::Tensor x = at::rand({37, 3, 16, 16}) * 0.2;
  for (int64_t i = 0; i < 37; ++i)  // objects of every size, brightness and colour
    x[i].narrow(1, i % 7, 3 + i % 9).narrow(2, (i * 3) % 5, 2 + (i * 5) % 11).add_(at::rand({3, 1, 1}) * 0.8);
  save(x, "images.pt");
  std::string script = "let x = tensor.load(\"images.pt\")\n"
                       "let whole = prime.image_tags(x, fraction=0.25)\n"
                       "report \"whole\" = whole\n"
                       "report \"parts\" = prime.image_tags(x, fraction=0.25, shards=4)\n"
                       "report \"like\" = prime.image_tags(x, like=whole, shards=3)\n";
  std::string diagnostics;
  std::optional<Graph> g = compile("t.pipe", "plugin \"prime\"\n" + script, &diagnostics);
  ASSERT_TRUE(g) << diagnostics;
  int measured = 0, finished = 0;
  for (const Node& n : g->nodes) measured += n.op == "prime.image_measurements", finished += n.op == "prime.tags_of_measurements";
  EXPECT_EQ(measured, 7);
  EXPECT_EQ(finished, 2);
  Execution e = run(script);
  Value whole = report(e, "whole");
  for (const char* name : {"parts", "like"}) {
    Value sharded = report(e, name);
    EXPECT_EQ(strings(field(sharded, "names")), strings(field(whole, "names"))) << name;
    for (const char* f : {"values", "cuts", "measurements"})
      EXPECT_TRUE(field(sharded, f).toTensor().equal(field(whole, f).toTensor())) << name << "." << f;
  }
  EXPECT_NE(run_errors("report \"t\" = prime.tags_of_measurements(tensor.random([4, 5]))\n")
                .find("'measurements' must be prime.image_measurements [N, 6 or 7], got"),
            std::string::npos);
}

TEST_F(PrimeOps, TagsFromATorchScriptTagger) {
  // Tag "left" when the left half is bright, "top" when the top half is: logits 10 * (mean - 0.75).
  torch::jit::Module m("Tagger");
  m.define(R"(
def forward(self, x):
    left = x[:, :, :, :2].mean(dim=[1, 2, 3])
    top = x[:, :, :2, :].mean(dim=[1, 2, 3])
    return 10.0 * (torch.stack([left, top], 1) - 0.75)
)");
  m.save((dir_ / "tagger.pt").string());
  at::Tensor x = at::zeros({3, 1, 4, 4});
  x[0].narrow(2, 0, 2).fill_(1);  // left
  x[1].narrow(1, 0, 2).fill_(1);  // top
  x[2].fill_(1);                  // both
  save(x, "x.pt");
  Value t = report(run("report \"t\" = prime.tag(model.load(\"tagger.pt\"), tensor.load(\"x.pt\"), [\"left\", \"top\"], batch=2)\n"),
                   "t");
  EXPECT_TRUE(field(t, "values").toTensor().equal(bools({1, 0, 0, 1, 1, 1}).view({3, 2})));
  EXPECT_NE(run_errors("report \"t\" = prime.tag(model.load(\"tagger.pt\"), tensor.load(\"x.pt\"), [\"left\"])\n")
                .find("1 tag names were given"),
            std::string::npos);
}

TEST_F(PrimeOps, ClusterBaselineFindsPlantedClustersOfErrorsAndNamesThem) {
  // Class 0: 100 right images around (0, 10); 40 errors around (-10, 0) carrying
  // tag "left", 40 around (10, 0) without it. Class 1: all right.
  at::Generator gen = at::detail::createCPUGenerator(3);
  at::Tensor centre = at::cat({at::tensor({0.0, 10.0}).expand({100, 2}), at::tensor({-10.0, 0.0}).expand({40, 2}),
                               at::tensor({10.0, 0.0}).expand({40, 2}), at::tensor({0.0, -10.0}).expand({60, 2})});
  save(centre + 0.5 * at::randn({240, 2}, gen, at::kDouble), "emb.pt");
  at::Tensor labels = at::cat({at::zeros({180}, at::kLong), at::ones({60}, at::kLong)});
  at::Tensor pred = labels.clone();
  pred.narrow(0, 100, 80).fill_(1);
  save(labels, "y.pt");
  save(pred, "p.pt");
  at::Tensor left = at::zeros({240, 1}, at::kBool);
  left.narrow(0, 100, 40).fill_(true);
  left.narrow(0, 0, 20).fill_(true);  // some right images carry it too
  save(left, "left.pt");
  for (std::string method : {"kmeans", "gmm"}) {
    Value r = report(run("report \"c\" = prime.cluster_baseline(tensor.load(\"emb.pt\"), tensor.load(\"y.pt\"), "
                         "tensor.load(\"p.pt\"), tags=prime.tags(tensor.load(\"left.pt\"), [\"left\"]), k=2, "
                         "method=\"" + method + "\", seed=1)\n"),
                     "c");
    EXPECT_EQ(ints(field(r, "class")), (std::vector<int64_t>{0, 0})) << method;
    EXPECT_EQ(ints(field(r, "errors")), (std::vector<int64_t>{40, 40})) << method;
    std::vector<std::string> tags = strings(field(r, "tags"));
    EXPECT_EQ(std::count(tags.begin(), tags.end(), "left"), 1) << method;
    EXPECT_EQ(std::count(tags.begin(), tags.end(), ""), 1) << method;
    // Each error cluster takes its 40 errors (and none of the right images, which lie
    // nearer one centre or the other: all 100 go to one or split) -- accuracy below the class's.
    std::vector<double> acc = floats(field(r, "accuracy"));
    EXPECT_LT(*std::max_element(acc.begin(), acc.end()), floats(field(r, "class_accuracy"))[0] + 0.2) << method;
    // "left" describes 60 images of class 0 (40 errors, 20 right): accuracy 1/3.
    int64_t row = std::find(tags.begin(), tags.end(), "left") - tags.begin();
    EXPECT_EQ(ints(field(r, "tag_support"))[row], 60) << method;
    EXPECT_NEAR(floats(field(r, "tag_accuracy"))[row], 20.0 / 60, 1e-12) << method;
  }
}

TEST_F(PrimeOps, ModeImagesShowEachModeErrorsFirstInRedFrames) {
  prime::Table t = shirts();
  save_split(t, "a");
  at::Tensor images = at::full({t.labels.size(0), 1, 16, 16}, 0.5);
  save(images, "x.pt");
  Execution e = run(load_split("a") +
                    "let modes = prime.extract(a_tags, a_labels, a_pred)\n"
                    "report \"rows\" = prime.mode_images(modes, a_tags, a_labels, tensor.load(\"x.pt\"), "
                    "predictions=a_pred, max_images=8)\n");
  auto rows = report(e, "rows").toListRef();
  ASSERT_EQ(rows.size(), 1u);
  at::Tensor r = rows[0].toTensor();
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{8, 3, 16, 16}));
  // 54 of the group's 60 images are wrong: the first 8 are all framed red.
  EXPECT_TRUE(r.select(2, 0).select(2, 5).select(1, 0).gt(0.8).all().item<bool>());
  EXPECT_NEAR(r[0][0][8][8].item<double>(), 0.5, 1e-6);
}

// Caption words as tags are exactly the captioned attributes, and a mode said
// as a prompt is its tags and class word in the template.
TEST_F(PrimeOps, CaptionWordsAreTagsAndModesBecomePrompts) {
  Execution e = run(
      "let c = data.captioned(data.fashion_mnist(split=\"test\", limit=300), seed=3)\n"
      "let tags = prime.caption_tags(c.data.tokens, c.vocab, [\"red\", \"striped\", \"small\"])\n"
      "report \"tags\" = tags\n"
      "report \"colour\" = c.data.colour\n"
      "report \"pattern\" = c.data.pattern\n"
      "report \"scale\" = c.data.scale\n");
  Value tags = report(e, "tags");
  EXPECT_EQ(strings(field(tags, "names")), (std::vector<std::string>{"red", "striped", "small"}));
  at::Tensor v = field(tags, "values").toTensor();
  ASSERT_EQ(v.sizes(), (std::vector<int64_t>{300, 3}));
  // data.captioned's lists: colours red first, patterns plain, striped, checked; scales small first.
  EXPECT_TRUE(v.select(1, 0).eq(report(e, "colour").toTensor().eq(0)).all().item<bool>());
  EXPECT_TRUE(v.select(1, 1).eq(report(e, "pattern").toTensor().eq(1)).all().item<bool>());
  EXPECT_TRUE(v.select(1, 2).eq(report(e, "scale").toTensor().eq(0)).all().item<bool>());
  EXPECT_GT(v.select(1, 0).sum().item<int64_t>(), 30);  // not a case that cannot fail

  save_split(shirts(), "a");
  Execution p = run(load_split("a") +
                    "let modes = prime.extract(a_tags, a_labels, a_pred)\n"
                    "report \"said\" = prime.mode_prompts(modes, [\"tshirt\", \"shirt\"])\n"
                    "report \"photo\" = prime.mode_prompts(modes, [\"tshirt\", \"shirt\"], "
                    "template=\"a photo of a <class> that is <tags>\")\n");
  Value said = report(p, "said"), photo = report(p, "photo");
  EXPECT_EQ(strings(field(said, "prompts")), std::vector<std::string>{"a dark large shirt"});
  EXPECT_EQ(strings(field(said, "class_prompts")), std::vector<std::string>{"a shirt"});
  EXPECT_EQ(ints(field(said, "labels")), std::vector<int64_t>{1});
  EXPECT_EQ(strings(field(photo, "prompts")), std::vector<std::string>{"a photo of a shirt that is dark large"});
  EXPECT_EQ(strings(field(photo, "class_prompts")), std::vector<std::string>{"a photo of a shirt that is"});

  EXPECT_NE(run_errors("let c = data.captioned(data.fashion_mnist(split=\"test\", limit=20))\n"
                       "report \"t\" = prime.caption_tags(c.data.tokens, c.vocab, [\"crimson\"])")
                .find("words: 'crimson' is not a word of the vocabulary (nearest: "),
            std::string::npos);
  EXPECT_NE(run_errors(load_split("a") + "report \"p\" = prime.mode_prompts(prime.extract(a_tags, a_labels, a_pred), "
                                         "[\"tshirt\"])")
                .find("mode 0 is of class 1, but 'classes' names 1"),
            std::string::npos);
  EXPECT_NE(run_errors(load_split("a") + "report \"p\" = prime.mode_prompts(prime.extract(a_tags, a_labels, a_pred), "
                                         "[\"tshirt\", \"shirt\"], template=\"a <class>\")")
                .find("template \"a <class>\" needs both <tags> and <class>"),
            std::string::npos);
}

// Captions for a mode are its own images' captions; for its class, its
// class's; each block of N rows belongs to one mode.
TEST_F(PrimeOps, ModeCaptionsAreCaptionsOfTheModesAndTheirClassesImages) {
  Execution e = run(
      "let c = data.captioned(data.fashion_mnist(split=\"test\", limit=600), seed=3)\n"
      "let tags = prime.caption_tags(c.data.tokens, c.vocab, [\"red\", \"striped\"])\n"
      "let wrong = prime.group(tags, c.data.labels, class=3, names=[\"red\", \"striped\"])\n"
      "let pred = tensor.where(wrong, 0, c.data.labels)\n"
      "let modes = prime.extract(tags, c.data.labels, pred, min_support=3)\n"
      "report \"modes\" = modes\n"
      "let said = prime.mode_captions(modes, tags, c.data.labels, c.data.tokens, n=5, seed=1)\n"
      "report \"said\" = said\n"
      "report \"vocab\" = c.vocab\n");
  Value modes = report(e, "modes"), said = report(e, "said");
  ASSERT_EQ(strings(field(modes, "tags")), std::vector<std::string>{"red & striped"});
  std::vector<std::string> vocab = strings(report(e, "vocab"));
  auto has = [&](const at::Tensor& row, const std::string& w) {
    int64_t id = std::find(vocab.begin(), vocab.end(), w) - vocab.begin();
    return row.eq(id).any().item<bool>();
  };
  at::Tensor p = field(said, "prompts").toTensor(), cp = field(said, "class_prompts").toTensor();
  ASSERT_EQ(p.size(0), 5);
  ASSERT_EQ(cp.size(0), 5);
  EXPECT_TRUE(field(said, "labels").toTensor().eq(3).all().item<bool>());
  int64_t red_striped = 0;
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(has(p[i], "red") && has(p[i], "striped") && has(p[i], "dress")) << i;
    EXPECT_TRUE(has(cp[i], "dress")) << i;
    red_striped += has(cp[i], "red") && has(cp[i], "striped");
  }
  EXPECT_LT(red_striped, 5);  // the class's captions are not only the mode's
  EXPECT_NE(run_errors("let c = data.captioned(data.fashion_mnist(split=\"test\", limit=600), seed=3)\n"
                       "let tags = prime.caption_tags(c.data.tokens, c.vocab, [\"red\", \"striped\"])\n"
                       "let modes = prime.extract(tags, c.data.labels, tensor.where(prime.group(tags, c.data.labels, "
                       "class=3, names=[\"red\", \"striped\"]), 0, c.data.labels), min_support=3)\n"
                       "report \"s\" = prime.mode_captions(modes, tags, c.data.labels, data.batch(c.data, size=5).tokens)")
                .find("the tags describe 600 images, but labels are"),
            std::string::npos);
}

// Every ```pipe block of docs/plugins/prime.md compiles against the plugin; the
// ```pipe-error ones do not; and so do the examples.
TEST_F(PrimeOps, TheDocsAndTheExampleCompile) {
  EXPECT_GE(check_doc_blocks(fs::path(PIPETTE_SOURCE_DIR) / "docs/plugins/prime.md"), 3);
  check_compiles(fs::path(PIPETTE_SOURCE_DIR) / "examples/failure_modes.pipe");
  check_compiles(fs::path(PIPETTE_SOURCE_DIR) / "examples/failure_modes_generated.pipe");
}

}  // namespace
}  // namespace pipette
