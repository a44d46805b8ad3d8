// Data from files (images, safetensors, CSV), normalisation, and figures.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST_F(Stdlib, SkimagePhotographsLoadAsASquareRgbDataset) {
  const char* dir = "/usr/lib/python3/dist-packages/skimage/data";
  if (!fs::exists(fs::path(dir) / "astronaut.png")) GTEST_SKIP() << "python3-skimage is not installed";
  auto e = run("let photos = data.images(size=32, names=[\"astronaut.png\", \"camera.png\", \"chelsea.png\", \"coffee.png\"])\n"
               "report \"n\" = photos.labels\n"
               "report \"first\" = data.subset(photos, count=2).images\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(report(e, "n").numel(), 4);
  at::Tensor first = report(e, "first");
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_GE(first.min().item<float>(), 0.f);
  EXPECT_LE(first.max().item<float>(), 1.f);
  EXPECT_GT(first.std().item<float>(), 0.05f);  // a photograph, not a flat image
}

TEST_F(Stdlib, ImageFoldersGiveOneLabelPerClassDirectory) {
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 3; ++i) {
      fs::create_directories(dir_ / "folder" / (c == 0 ? "cat" : "dog"));
      write_value_file(Value(at::full({3, 10, 14}, c == 0 ? 0.2 : 0.8)),
                       dir_ / "folder" / (c == 0 ? "cat" : "dog") / (std::to_string(i) + ".png"));
    }
  auto e = run("let d = data.image_folder(\"folder\", size=8, channels=1)\n"
               "report \"labels\" = d.labels\nreport \"images\" = d.images\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "labels").equal(at::tensor({0, 0, 0, 1, 1, 1}, at::kLong)));
  at::Tensor images = report(e, "images");
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{6, 1, 8, 8}));
  EXPECT_NEAR(images[0].mean().item<float>(), 0.2f, 0.01f);
  EXPECT_NEAR(images[5].mean().item<float>(), 0.8f, 0.01f);

  // A file that does not decode fails the read that needs it, naming the file,
  // and the run says why the report is missing.
  std::ofstream(dir_ / "folder" / "dog" / "9.png") << "not a png";
  Execution bad;
  std::string error = run_errors("report \"images\" = data.image_folder(\"folder\").images\n", &bad);
  EXPECT_EQ(bad.report_errors.count("images"), 1u);
  EXPECT_NE(error.find("cannot read the image"), std::string::npos) << error;
  EXPECT_NE(error.find("dog/9.png"), std::string::npos) << error;
}

TEST_F(Stdlib, SafetensorsFilesLoadByKey) {
  // Written by hand, as safetensors specifies: header length, JSON, raw bytes.
  std::vector<float> a = {1.5f, -2.f, 3.f, 4.f, 5.f, 6.f};
  std::vector<int64_t> b = {7, 8};
  std::string header = R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                       R"("b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"__metadata__":{"format":"pt"}})";
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(a.data()), 24);
  bytes.append(reinterpret_cast<const char*>(b.data()), 16);
  std::ofstream(dir_ / "w.safetensors", std::ios::binary) << bytes;
  auto e = run("report \"a\" = tensor.load(\"w.safetensors\", key=\"a\")\nreport \"b\" = tensor.load(\"w.safetensors\", key=\"b\")\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "a").equal(at::tensor(a).view({2, 3})));
  EXPECT_TRUE(report(e, "b").equal(at::tensor(b)));
  // Without a key, a file of two tensors is an error that lists them.
  std::string error = run_errors("report \"x\" = tensor.load(\"w.safetensors\")\n");
  EXPECT_NE(error.find("holds 2 tensors (a, b); pick one with key="), std::string::npos) << error;
}

TEST_F(Stdlib, AccuracyByHandFromComparisonsAndArgmax) {
  save(at::tensor({0.1f, 2.f, 0.3f, 5.f, 1.f, 1.f, 0.2f, 0.1f, 0.9f, 1.f, 1.f, 0.f}).view({4, 3}), "logits.pt");
  save(at::tensor({1, 0, 0, 0}, at::kLong), "labels.pt");
  auto e = run("let logits = tensor.load(\"logits.pt\")\nlet labels = tensor.load(\"labels.pt\")\n"
               "let predicted = tensor.argmax(logits, dim=1)\n"
               "report \"predicted\" = predicted\n"
               "report \"accuracy\" = tensor.mean(tensor.eq(predicted, labels))\n"
               "report \"wrong\" = tensor.sum(tensor.ne(predicted, labels))\n"
               "report \"above_one\" = tensor.sum(tensor.gt(logits, 1))\n"
               "report \"at_most_one\" = tensor.sum(tensor.le(logits, 1))\n"
               "report \"flat_argmin\" = tensor.argmin(logits)\n"
               "report \"column_min\" = tensor.min(logits, dim=0)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "predicted").equal(at::tensor({1, 0, 2, 0}, at::kLong)));  // the first maximum on ties
  EXPECT_FLOAT_EQ(report(e, "accuracy").item<float>(), 0.75f);
  EXPECT_EQ(report(e, "wrong").item<int64_t>(), 1);
  EXPECT_EQ(report(e, "above_one").item<int64_t>(), 2);
  EXPECT_EQ(report(e, "at_most_one").item<int64_t>(), 10);
  EXPECT_EQ(report(e, "flat_argmin").item<int64_t>(), 11);
  EXPECT_TRUE(at::allclose(report(e, "column_min"), at::tensor({0.1f, 0.1f, 0.f})));
  // An empty tensor has no mean or maximum: an error, not a NaN.
  save(at::empty({0, 3}), "empty.pt");
  std::string error = run_errors("report \"m\" = tensor.mean(tensor.load(\"empty.pt\"))\n");
  EXPECT_NE(error.find("cannot reduce an empty tensor"), std::string::npos) << error;
}

TEST_F(Stdlib, CsvTablesAndNormalisation) {
  std::ofstream(dir_ / "t.csv") << "x1,x2,label\n1.0,2,0\n3,4.5,1\n\n5,6,1\n";
  auto e = run("let t = data.csv(\"t.csv\")\nreport \"f\" = t.features\nreport \"y\" = t.labels\n"
               "report \"z\" = data.normalize(t, field=\"features\").features\n"
               "report \"fixed\" = data.normalize(t, field=\"features\", mean=[1.0, 2.0], std=2.0).features\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "f").equal(at::tensor({1.f, 2.f, 3.f, 4.5f, 5.f, 6.f}).view({3, 2})));
  EXPECT_TRUE(report(e, "y").equal(at::tensor({0, 1, 1}, at::kLong)));
  at::Tensor z = report(e, "z");
  EXPECT_TRUE(at::allclose(z.mean(0), at::zeros({2}), 0, 1e-6));
  EXPECT_TRUE(at::allclose(z.std(0), at::ones({2}), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(report(e, "fixed")[0], at::tensor({0.f, 0.f})));

  std::ofstream(dir_ / "bad.csv") << "a,label\n1,0\noops,1\n";
  std::string error = run_errors("report \"x\" = data.csv(\"bad.csv\").features\n");
  EXPECT_NE(error.find("bad.csv:3: column 'a' holds 'oops', not a number"), std::string::npos) << error;
}

TEST_F(Stdlib, GridsAndCurvesAreFiguresYouCanOpen) {
  save(at::rand({3, 1, 28, 28}), "a.pt");
  save(at::rand({3, 3, 28, 28}), "b.pt");
  save(at::linspace(1, 0, 11), "c1.pt");
  save(at::rand({4, 11}), "c2.pt");
  auto e = run("let a = tensor.load(\"a.pt\")\nlet b = tensor.load(\"b.pt\")\n"
               "let rows = viz.grid([a, b], captions=[\"saliency\", \"integrated gradients\"])\n"
               "let cells = viz.grid(a, captions=[\"one\", \"two\", \"three\"], cols=3)\n"
               "report \"rows\" = rows\nreport \"cells\" = cells\nsave(rows, \"rows.png\")\n"
               "viz.curve([tensor.load(\"c1.pt\"), tensor.load(\"c2.pt\")], \"curves.svg\", labels=[\"IG\", \"saliency <&>\"], title=\"deletion\")\n"
               "viz.curve(tensor.load(\"c1.pt\"), \"curve.png\")\n");
  ASSERT_TRUE(e.ok());
  at::Tensor rows = report(e, "rows"), cells = report(e, "cells");
  // 28 px images are enlarged 4x (112 px) so captions fit; 2 rows with titles.
  EXPECT_EQ(rows.size(0), 3);
  EXPECT_EQ(rows.size(2), 3 * (112 + 6) + 6);
  EXPECT_EQ(rows.size(1), 2 * (112 + 6 + 16) + 6);
  EXPECT_EQ(cells.size(1), 112 + 14 + 6 + 6);  // one row, with a caption line
  // Captions are drawn: dark pixels in the strip under the first image.
  at::Tensor strip = cells.slice(1, 6 + 112, 6 + 112 + 14).slice(2, 6, 6 + 112);
  EXPECT_LT(strip.min().item<float>(), 0.1f);
  std::string svg = read_file(dir_ / "out" / "curves.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u);
  EXPECT_NE(svg.find("saliency &lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(read_file(dir_ / "out" / "curve.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(Stdlib, CurvesCanHaveTheirOwnX) {
  // A trade-off curve: y = 1 - x/2 over x = 0 .. 2; the x axis spans [0, 2].
  save(at::tensor({1.0, 0.5, 0.0}), "y.pt");
  save(at::tensor({0.0, 1.0, 2.0}), "x.pt");
  auto e = run("viz.curve(tensor.load(\"y.pt\"), \"t.svg\", x=tensor.load(\"x.pt\"))\n");
  ASSERT_TRUE(e.ok());
  std::string svg = read_file(dir_ / "out" / "t.svg");
  // Plot area: left 64, width 480, top 40, height 300.
  EXPECT_NE(svg.find("points=\"64.00,40.00 304.00,190.00 544.00,340.00 \""), std::string::npos) << svg;
  EXPECT_NE(svg.find(">2.00</text>"), std::string::npos);
  save(at::tensor({0.0, 1.0}), "x2.pt");
  EXPECT_NE(run_errors("viz.curve(tensor.load(\"y.pt\"), \"t.svg\", x=tensor.load(\"x2.pt\"))\n")
                .find("curve 1 has 3 points but its x has 2"),
            std::string::npos);
}

TEST_F(Stdlib, ListsOfNumbersAreCurvesToo) {
  // A table's columns (localize.locogen's scores over window starts) plot as they are.
  auto e = run("viz.curve([1.0, 0.5, 0.0], \"l.svg\", x=[0, 1, 2])\n");
  ASSERT_TRUE(e.ok());
  std::string svg = read_file(dir_ / "out" / "l.svg");
  EXPECT_NE(svg.find("points=\"64.00,40.00 304.00,190.00 544.00,340.00 \""), std::string::npos) << svg;
}

TEST_F(Stdlib, MatricesAreHeatmapsWithAColourBar) {
  save(at::tensor({0.0, 1.0, 2.0, 3.0}).view({2, 2}), "m.pt");
  auto e = run("report \"m\" = viz.matrix(tensor.load(\"m.pt\"), title=\"t\", xlabel=\"step\", ylabel=\"block\")\n");
  ASSERT_TRUE(e.ok());
  at::Tensor img = report(e, "m");
  ASSERT_EQ(img.dim(), 3);
  ASSERT_EQ(img.size(0), 3);
  // Cells of 64 px (two columns span >= 320 px at the cap): the lowest value
  // is viridis' first colour, the highest its last, each on one whole cell
  // (the colour bar's ends add a row of 12 pixels).
  auto count = [&](float r, float g, float b) {
    at::Tensor c = at::tensor({r, g, b}).view({3, 1, 1});
    return (img - c).abs().amax(0).lt(1e-4).sum().item<int64_t>();
  };
  EXPECT_EQ(count(0.267f, 0.005f, 0.329f), 64 * 64 + 12);
  EXPECT_EQ(count(0.993f, 0.906f, 0.144f), 64 * 64 + 12);
  save(at::tensor({0.0, std::nan("")}), "nan.pt");
  EXPECT_NE(run_errors("report \"m\" = viz.matrix(tensor.load(\"nan.pt\"))\n").find("NaN"), std::string::npos);
  EXPECT_NE(run_errors("report \"m\" = viz.matrix(tensor.load(\"m.pt\"), row_labels=[\"a\"])\n")
                .find("1 row labels for 2 rows"),
            std::string::npos);
}

TEST_F(Stdlib, AccuracyOfAClassifierWithLabelsPerGroup) {
  save_linear(at::eye(3), at::zeros({3}));  // the inputs are the logits
  at::Tensor x = at::tensor({2.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 3.f, 1.f, 0.f, 0.f}).view({4, 3});
  save(x, "x.pt");
  // Two labels for four inputs: the first two are class 0, the last two class 2.
  auto e = run("let a = model.accuracy(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), [0, 2])\n"
               "report \"accuracy\" = a.accuracy\nreport \"probability\" = a.probability\n"
               "report \"predictions\" = a.predictions\nreport \"one\" = model.accuracy(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), 0).accuracy\n");
  ASSERT_TRUE(e.ok());
  at::Tensor want = at::tensor({0, 0, 2, 2}, at::kLong);
  at::Tensor p = x.softmax(1).gather(1, want.view({-1, 1})).mean();
  EXPECT_DOUBLE_EQ(report(e, "accuracy").item<double>(), 0.5);
  EXPECT_NEAR(report(e, "probability").item<double>(), p.item<double>(), 1e-6);
  EXPECT_TRUE(report(e, "predictions").equal(at::tensor({0, 1, 2, 0}, at::kLong)));
  EXPECT_DOUBLE_EQ(report(e, "one").item<double>(), 0.5);
  EXPECT_NE(run_errors("report \"a\" = model.accuracy(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), [0, 1, 2]).accuracy\n")
                .find("'labels' has 3 entries for 4 rows"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"a\" = model.accuracy(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), 7).accuracy\n")
                .find("target 7"),
            std::string::npos);
}

// The shape and selection ops on a tensor whose entries are their positions,
// every answer written out by hand.
TEST_F(Stdlib, ShapeAndSelectionOpsByHand) {
  save(at::arange(12, at::kFloat).view({3, 4}), "x.pt");
  save(at::tensor({0.0f, std::log(3.0f)}), "logits.pt");
  save(at::tensor({3.0f, 4.0f, -6.0f, 8.0f}).view({2, 2}), "v.pt");
  auto e = run("let x = tensor.load(\"x.pt\")\n"
               "report \"reshaped\" = tensor.reshape(x, [-1, 6])\n"
               "report \"sliced\" = tensor.slice(x, dim=1, start=-3, step=2)\n"
               "report \"rows\" = tensor.index(x, [2, -3])\n"
               "let top = tensor.topk(x, 2, dim=1)\n"
               "report \"top\" = field(top, \"values\")\n"
               "report \"where\" = field(top, \"indices\")\n"
               "report \"bottom\" = field(tensor.topk(x, 1, dim=0, largest=false), \"values\")\n"
               "report \"joined\" = tensor.cat([x, x], dim=-1)\n"
               "report \"stacked\" = tensor.stack([x, x], dim=1)\n"
               "report \"clamped\" = tensor.clamp(x, min=2, max=9)\n"
               "report \"soft\" = tensor.softmax(tensor.load(\"logits.pt\"))\n"
               "report \"unit\" = tensor.normalize(tensor.load(\"v.pt\"), dim=1)\n"
               "report \"l1\" = tensor.normalize(tensor.load(\"v.pt\"), p=1, dim=0)\n"
               "report \"magnitude\" = tensor.abs(tensor.load(\"v.pt\"))\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "reshaped").equal(at::arange(12, at::kFloat).view({2, 6})));
  EXPECT_TRUE(report(e, "sliced").equal(at::tensor({1.f, 3.f, 5.f, 7.f, 9.f, 11.f}).view({3, 2})));
  EXPECT_TRUE(report(e, "rows").equal(at::tensor({8.f, 9.f, 10.f, 11.f, 0.f, 1.f, 2.f, 3.f}).view({2, 4})));
  EXPECT_TRUE(report(e, "top").equal(at::tensor({3.f, 2.f, 7.f, 6.f, 11.f, 10.f}).view({3, 2})));
  EXPECT_TRUE(report(e, "where").equal(at::tensor({3, 2, 3, 2, 3, 2}, at::kLong).view({3, 2})));
  EXPECT_TRUE(report(e, "bottom").equal(at::tensor({0.f, 1.f, 2.f, 3.f}).view({1, 4})));
  EXPECT_EQ(report(e, "joined").sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_FLOAT_EQ(report(e, "joined")[2][7].item<float>(), 11.f);
  EXPECT_EQ(report(e, "stacked").sizes(), (std::vector<int64_t>{3, 2, 4}));
  EXPECT_FLOAT_EQ(report(e, "stacked")[1][1][2].item<float>(), 6.f);
  EXPECT_FLOAT_EQ(report(e, "clamped")[0][0].item<float>(), 2.f);
  EXPECT_FLOAT_EQ(report(e, "clamped")[1][1].item<float>(), 5.f);
  EXPECT_FLOAT_EQ(report(e, "clamped")[2][3].item<float>(), 9.f);
  EXPECT_TRUE(report(e, "soft").allclose(at::tensor({0.25f, 0.75f})));
  EXPECT_TRUE(report(e, "unit").allclose(at::tensor({0.6f, 0.8f, -0.6f, 0.8f}).view({2, 2})));
  EXPECT_TRUE(report(e, "l1").allclose(at::tensor({3.f / 9, 4.f / 12, -6.f / 9, 8.f / 12}).view({2, 2})));
  EXPECT_TRUE(report(e, "magnitude").equal(at::tensor({3.f, 4.f, 6.f, 8.f}).view({2, 2})));
}

// Their bad input: errors in the sizes the user gave.
TEST_F(Stdlib, ShapeAndSelectionOpsNameTheSizes) {
  save(at::zeros({3, 4}), "x.pt");
  auto has = [&](const std::string& line, const std::string& want) {
    std::string error = run_errors("let x = tensor.load(\"x.pt\")\nreport \"y\" = " + line + "\n");
    EXPECT_NE(error.find(want), std::string::npos) << line << ": " << error;
  };
  has("tensor.reshape(x, [5, -1])", "cannot reshape [3, 4] (12 elements) to [5, -1]");
  has("tensor.reshape(x, [-1, -1])", "only one size may be -1");
  has("tensor.index(x, [3])", "index 3 is outside dimension 0 of a tensor of shape [3, 4] (3 entries)");
  has("tensor.slice(x, dim=2)", "dim=2 is outside a tensor of shape [3, 4] (dims -2..1)");
  has("tensor.cat([x, tensor.random([3, 5])])", "tensor 1 is [3, 5], tensor 0 is [3, 4]: only dim 0 may differ");
  has("tensor.stack([x, tensor.random([4, 3])])", "stacking needs one shape");
  has("field(tensor.topk(x, 5), \"values\")", "k=5 is not between 1 and 4, the size of dim 1 of [3, 4]");
  has("tensor.clamp(x, min=2, max=1)", "min=2 is above max=1");
  has("tensor.clamp(x)", "tensor.clamp needs min=, max= or both");
}

}  // namespace
}  // namespace pipette
