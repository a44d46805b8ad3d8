// report.html from a run's directory: every report, every picture, a row per
// node, the script's lines; strings from the run shown as text, never markup;
// self-contained (nothing fetched); small enough to mail with 100 pictures.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

// A decoder of the test's own, to look at the thumbnails' pixels.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include "engine/atomic_file.hpp"
#include "engine/html_compare.hpp"
#include "engine/html_report.hpp"
#include "engine/png_thumbnail.hpp"
#include "engine/value_io.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

class HtmlReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-html-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out" / "reports");
    std::ofstream(dir_ / "s.pipe") << "let x = tensor.random([4])\nreport \"a\" = x\nsave(x, \"x.png\")\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const nlohmann::ordered_json& reports, const nlohmann::ordered_json& nodes) {
    nlohmann::ordered_json r;
    r["format"] = "pipette-report";
    r["run"] = {{"id", "s-1"}, {"script", (dir_ / "s.pipe").string()}, {"status", "failed"}, {"params", {{"k", 2}}},
                {"plugins", nlohmann::ordered_json::array()}};
    r["reports"] = reports;
    r["nodes"] = nodes;
    std::ofstream(dir_ / "out" / "report.json") << r.dump();
    fs::path html = write_html_report(dir_ / "out");
    std::ifstream in(html);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST_F(HtmlReport, StringsFromTheRunAreTextNeverMarkup) {
  std::string evil = "<script>alert(1)</script>\"' onload=x \x01\x1b";
  auto nodes = nlohmann::ordered_json::array(
      {{{"id", "n0"}, {"op", "tensor.random"}, {"loc", (dir_ / "s.pipe").string() + ":1:9"}, {"status", "failed"},
        {"seconds", 0.5}, {"error", evil}}});
  std::string html = write({{evil, evil}, {"ok", 1.5}}, nodes);
  EXPECT_EQ(count(html, "<script"), 1u);  // the page's own, which holds no run data
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  // Control characters as their pictures (U+2401, U+241B): visible, never raw.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onload=x \u2401\u241b"), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  // The failed node is linked to its script line, which is marked.
  EXPECT_NE(html.find("<a href='#L1'>1</a>"), std::string::npos);
  EXPECT_NE(html.find("<span id=L1 data-n=1 class=node>let x = tensor.random([4])</span>"), std::string::npos);
  EXPECT_NE(html.find("<span id=L2 data-n=2>report &quot;a&quot; = x</span>"), std::string::npos);
}

TEST_F(HtmlReport, WarningsOfTheCompilerAndTheOpsAreListedAtTheirLines) {
  std::string loc = (dir_ / "s.pipe").string();
  auto nodes = nlohmann::ordered_json::array(
      {{{"id", "n0"}, {"op", "metric.deletion"}, {"loc", loc + ":2:5"}, {"status", "done"}, {"seconds", 0.1},
        {"warnings", {"9 of 64 attributions give every feature the same relevance", "<i>second</i>"}}}});
  nlohmann::ordered_json r;
  r["run"] = {{"id", "s-1"}, {"script", loc}, {"status", "ok"}};
  r["reports"] = nlohmann::ordered_json::object();
  r["warnings"] = {{{"loc", loc + ":1:5"}, {"message", "unused variable 'x'"}}};
  r["nodes"] = nodes;
  std::ofstream(dir_ / "out" / "report.json") << r.dump();
  std::ifstream in(write_html_report(dir_ / "out"));
  std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(count(html, "<li class=warning>"), 3u);
  EXPECT_NE(html.find("<li class=warning><a href='#L1'>" + loc + ":1:5</a>: unused variable &#39;x&#39;</li>"),
            std::string::npos);
  EXPECT_NE(html.find("<a href='#L2'>" + loc + ":2:5</a>: n0 metric.deletion: 9 of 64 attributions"), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;second&lt;/i&gt;"), std::string::npos);
}

TEST_F(HtmlReport, EveryReportPictureAndNodeIsThereAndNothingIsFetched) {
  at::Tensor t = at::arange(100, at::kFloat).view({10, 10});
  t[0][0] = std::nan("");
  write_value_file(Value(t), dir_ / "out" / "reports" / "t.pt");
  for (int i = 0; i < 100; ++i)
    write_value_file(Value(at::rand({3, 28, 28})), dir_ / "out" / "pics" / ("p" + std::to_string(i) + ".png"));
  std::ofstream(dir_ / "out" / "curve.svg") << "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(2)</script></svg>";
  auto nodes = nlohmann::ordered_json::array();
  for (int i = 0; i < 7; ++i)
    nodes.push_back({{"id", "n" + std::to_string(i)}, {"op", "tensor.add"}, {"loc", "elsewhere.pipe:3:1"},
                     {"status", "done"}, {"seconds", 0.01 * i}});
  auto reports = nlohmann::ordered_json{{"t", {{"file", "reports/t.pt"}, {"shape", {10, 10}}, {"dtype", "float32"}}},
                                        {"table", {{"name", {"a", "b"}}, {"score", {0.5, 0.25}}}},
                                        {"record", {{"inner", {{"x", 1}}}}}};
  std::string html = write(reports, nodes);
  EXPECT_EQ(count(html, "<tr class=report>"), 3u);
  EXPECT_EQ(count(html, "<tr class=node>"), 7u);
  EXPECT_EQ(count(html, "<img alt='pics/p"), 100u);
  // The SVG is a picture in an <img>, whose script a browser does not run; never inline markup.
  EXPECT_NE(html.find("<img alt='curve.svg' src='data:image/svg+xml;base64,"), std::string::npos);
  EXPECT_EQ(html.find("alert(2)"), std::string::npos);
  // The tensor's statistics skip its NaN and count it; the table is sortable.
  EXPECT_NE(html.find("<td>1</td><td>99</td><td>50</td>"), std::string::npos) << html.substr(0, 3000);
  EXPECT_NE(html.find("<td>1</td></tr></table><svg class=hist"), std::string::npos);
  EXPECT_NE(html.find("<table class=sortable><thead><tr><th>name</th><th>score</th>"), std::string::npos);
  // Self-contained: no src or href that leaves the page.
  EXPECT_FALSE(std::regex_search(html, std::regex("(src|href)=['\"]?(https?:|//)")));
  EXPECT_LT(fs::file_size(dir_ / "out" / "report.html"), 5u << 20);
}

TEST_F(HtmlReport, APictureTooLargeToEmbedIsLinked) {
  write_value_file(Value(at::rand({3, 64, 64})), dir_ / "out" / "big.png");
  nlohmann::ordered_json r;
  r["run"] = {{"id", "s-1"}, {"script", "missing.pipe"}, {"status", "ok"}};
  r["reports"] = nlohmann::ordered_json::object();
  r["nodes"] = nlohmann::ordered_json::array();
  std::ofstream(dir_ / "out" / "report.json") << r.dump();
  std::ifstream in(write_html_report(dir_ / "out", 1000));
  std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(html.find("<a href='./big.png'>big.png</a>"), std::string::npos);
  EXPECT_EQ(html.find("<h2>Script</h2>"), std::string::npos);  // a script that is not there is left out
}

TEST(PngThumbnail, AveragesThePixelsEachThumbnailPixelCovers) {
  // 400 x 300 of 2 x 2 black and white squares: every thumbnail pixel covers
  // 2.5 x 2.5 of them, so it averages to mid grey (nearest-pixel scaling would
  // give black or white).
  at::Tensor board = (at::arange(300).div(2, "floor").view({300, 1}) + at::arange(400).div(2, "floor").view({1, 400}))
                         .remainder(2)
                         .to(at::kFloat);
  std::string png = tensor_to_png(board);
  auto thumb = png_thumbnail(png, 160);
  ASSERT_TRUE(thumb);
  int w = 0, h = 0, c = 0;
  stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(thumb->bytes.data()),
                                      static_cast<int>(thumb->bytes.size()),
                                      &w, &h, &c, 1);
  ASSERT_TRUE(px);
  EXPECT_EQ(w, 160);
  EXPECT_EQ(h, 120);
  at::Tensor grey = at::from_blob(px, {h, w}, at::kByte).to(at::kFloat);
  EXPECT_NEAR(grey.mean().item<double>(), 127.5, 2.0);
  EXPECT_GT(grey.min().item<double>(), 60);  // no pixel is black or white
  EXPECT_LT(grey.max().item<double>(), 195);
  stbi_image_free(px);
  EXPECT_FALSE(png_thumbnail(tensor_to_png(at::rand({3, 100, 160})), 160));  // small enough already
  EXPECT_FALSE(png_thumbnail("not a png", 160));
  // Noise compresses as a JPEG, and so becomes one.
  auto noise = png_thumbnail(tensor_to_png(at::rand({3, 300, 400})), 160);
  ASSERT_TRUE(noise);
  EXPECT_STREQ(noise->mime, "image/jpeg");
}

TEST_F(HtmlReport, AHundredLargePicturesStayAFewMegabytes) {
  // Noise is the worst case for PNG: 100 of them are 36 MB on disk.
  for (int i = 0; i < 100; ++i)
    write_value_file(Value(at::rand({3, 300, 400})), dir_ / "out" / "pics" / ("p" + std::to_string(i) + ".png"));
  std::string html = write(nlohmann::ordered_json::object(), nlohmann::ordered_json::array());
  size_t size = fs::file_size(dir_ / "out" / "report.html");
  EXPECT_LT(size, 5u << 20);
  // Every one is there: a thumbnail while the page's budget lasts, a link after it.
  size_t shown = count(html, "<img alt='pics/p"), linked = count(html, "<figure class=linked><a href='./pics/p");
  EXPECT_EQ(shown + linked, 100u);
  EXPECT_EQ(shown, 100u) << "JPEG thumbnails of 160 x 120 noise are ~20 KB: all fit";
  RecordProperty("thumbnails", static_cast<int>(shown));
  RecordProperty("bytes", static_cast<int>(size));
  // A click shows the picture itself, linked beside the page (too large to embed).
  EXPECT_EQ(count(html, "data-full='./pics/p"), shown);
}

TEST_F(HtmlReport, TheTimelineShowsWhenEachComputedNodeRanAndHowManyAtOnce) {
  auto node = [&](int i, double started, double seconds, bool cached) {
    nlohmann::ordered_json n{{"id", "n" + std::to_string(i)}, {"op", "attr.saliency"},
                             {"loc", (dir_ / "s.pipe").string() + ":1:9"}, {"status", "done"}, {"seconds", seconds}};
    if (started >= 0) n["started"] = started;
    if (cached) n["cached"] = true;
    n["peak_bytes"] = int64_t(3) << 20;
    return n;
  };
  // Three overlap in [1, 2); the fourth starts after they end; one came from the cache.
  auto nodes = nlohmann::ordered_json::array(
      {node(0, 0.0, 2.0, false), node(1, 1.0, 1.0, false), node(2, 1.5, 1.0, false), node(3, 3.0, 1.0, false),
       node(4, -1, 0.0, true)});
  std::string html = write(nlohmann::ordered_json::object(), nodes);
  EXPECT_EQ(count(html, "<rect class='bar'"), 4u);
  EXPECT_NE(html.find("4 nodes computed, at most 3 at once; 1 from the cache (not shown)."), std::string::npos);
  // The fourth bar reuses the first lane (y = 4) at x = 16 + 1000 * 3/4.
  EXPECT_NE(html.find("<rect class='bar' x='766' y='4' width='250'"), std::string::npos) << html;
  EXPECT_NE(html.find("<td class=num>3.00</td>"), std::string::npos);  // peak MiB
}

TEST(HtmlCompare, RunsSideBySideWithTheirChangesAgainstTheFirst) {
  fs::path root = fs::temp_directory_path() / ("pipette-compare-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::vector<ComparedRun> runs;
  for (int r = 0; r < 2; ++r) {
    fs::path out = root / ("run" + std::to_string(r));
    fs::create_directories(out / "reports");
    at::Tensor t = at::arange(6, at::kFloat);
    if (r == 1) t[2] = 2.5;  // one value differs by 0.5
    write_value_file(Value(t), out / "reports" / "t.pt");
    write_value_file(Value(at::full({3, 8, 8}, 0.5 * r)), out / "grid.png");
    nlohmann::ordered_json rep;
    rep["run"] = {{"id", "s-" + std::to_string(r)}, {"script", "s.pipe"}, {"status", "ok"}, {"seed", 0},
                  {"params", {{"steps", 16 * (r + 1)}, {"<b>name</b>", "x"}}}};
    rep["reports"] = {{"acc", 0.5 + 0.25 * r},
                      {"t", {{"file", "reports/t.pt"}, {"shape", {6}}, {"dtype", "float32"}}},
                      {"same", 7}};
    rep["nodes"] = nlohmann::ordered_json::array(
        {{{"id", "n0"}, {"op", "attr.integrated_gradients"}, {"status", "done"}, {"seconds", 1.0 + r}},
         {{"id", "n1"}, {"op", "tensor.add"}, {"status", "done"}, {"seconds", 0.1}, {"cached", r == 1}}});
    runs.push_back({rep, out, true, ""});
  }
  std::string html = compare_page(runs, root);
  fs::remove_all(root);
  EXPECT_NE(html.find("<meta name=generator content='pipette runs compare'>"), std::string::npos);
  // Params and reports: every key once, changed ones marked, with the delta.
  EXPECT_NE(html.find("<tr class='param differs'><th>steps</th><td>16</td><td>32 <span class=delta>(+16, +100.0 %)</span></td>"),
            std::string::npos) << html;
  EXPECT_NE(html.find("<th>&lt;b&gt;name&lt;/b&gt;</th>"), std::string::npos);
  EXPECT_NE(html.find("<tr class='report differs'><th>acc</th><td>0.5</td><td>0.75 <span class=delta>(+0.25, +50.0 %)</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr class='report'><th>same</th><td>7</td><td>7</td><td><span class=same>same</span>"),
            std::string::npos);
  // The tensor files are opened and compared by value.
  EXPECT_NE(html.find("max |diff| 0.5, max relative 0.25 (1 of 6 values differ)"), std::string::npos);
  // Both runs' pictures in one row.
  EXPECT_EQ(count(html, "<tr class=picture>"), 1u);
  EXPECT_EQ(count(html, "<figure><img alt='"), 2u);
  // IG took twice as long in B; a cached node is not compared by time.
  EXPECT_NE(html.find("<td class=num>2 s <span class=up>(×2.00)</span></td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=num><span class=meta>cached</span></td>"), std::string::npos);
  EXPECT_NE(html.find("<th colspan=2>computed, in all</th><td class=num>1.1 s</td><td class=num>2 s</td>"),
            std::string::npos);
}

TEST_F(HtmlReport, NamesAndRecordsFromTheRunCannotBecomeLinksFilesOrScript) {
  // A picture named like a URL scheme, linked because the page's budget is spent.
  write_value_file(Value(at::rand({3, 64, 64})), dir_ / "out" / "javascript:alert(1).png");
  // A link to a file outside the run is not a picture the run saved.
  fs::create_symlink("/etc/passwd", dir_ / "out" / "secret.svg");
  nlohmann::ordered_json r;
  r["run"] = {{"id", "s-1"}, {"script", (dir_ / "crlf.pipe").string()}, {"status", "ok"}};
  // Records a script reported that merely look like tensor files.
  r["reports"] = {{"table", {{"file", {"a.png"}}, {"shape", {"3x3"}}}},
                  {"elsewhere", {{"file", "/etc/passwd"}, {"shape", {1}}, {"dtype", "float32"}}},
                  {"climbs", {{"file", "reports/../../x.pt"}, {"shape", {1}}, {"dtype", "float32"}}}};
  r["nodes"] = nlohmann::ordered_json::array(
      {{{"id", "n0"}, {"op", "<b>op</b>"}, {"status", "done\"><script>"}, {"seconds", 1.0}, {"started", 0.0}}});
  std::ofstream(dir_ / "out" / "report.json") << r.dump();
  std::ofstream(dir_ / "crlf.pipe", std::ios::binary) << "let a = 1\r\nreport \"x\" = a\r\n";
  std::ifstream in(write_html_report(dir_ / "out", 1000));
  std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(html.find("<a href='./javascript%3Aalert%281%29.png'>javascript:alert(1).png</a>"), std::string::npos)
      << html;
  EXPECT_EQ(html.find("secret.svg"), std::string::npos);
  EXPECT_EQ(html.find("root:"), std::string::npos);
  // The look-alikes are shown as records of text; nothing was opened.
  EXPECT_NE(html.find("<th>file</th><td><span class=value>/etc/passwd</span></td>"), std::string::npos);
  EXPECT_NE(html.find("<th>file</th><td><span class=value>reports/../../x.pt</span></td>"), std::string::npos);
  EXPECT_EQ(count(html, "<tr class=report>"), 3u);
  // Op names and statuses are text in the table, the timeline's title and label.
  EXPECT_EQ(html.find("<b>op</b>"), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u);
  // CRLF line ends do not show as a control character on every line.
  EXPECT_NE(html.find("<span id=L1 data-n=1>let a = 1</span>"), std::string::npos);
}

TEST(PngThumbnail, TransparencyIsKeptAndDoesNotBleed) {
  // Grey with alpha: the left half transparent (and stored black), the right half opaque white.
  at::Tensor ga = at::zeros({2, 300, 400});
  ga[0].narrow(1, 201, 199).fill_(1.0);
  ga[1].narrow(1, 201, 199).fill_(1.0);
  at::Tensor rgba = at::cat({ga[0].unsqueeze(0).expand({3, 300, 400}), ga[1].unsqueeze(0)});
  auto thumb = png_thumbnail(tensor_to_png(rgba), 160);
  ASSERT_TRUE(thumb);
  EXPECT_STREQ(thumb->mime, "image/png");  // transparent: never a JPEG
  int w = 0, h = 0, c = 0;
  stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(thumb->bytes.data()),
                                      static_cast<int>(thumb->bytes.size()), &w, &h, &c, 4);
  ASSERT_TRUE(px);
  at::Tensor t = at::from_blob(px, {h, w, 4}, at::kByte).to(at::kFloat).clone();
  stbi_image_free(px);
  EXPECT_EQ(t.select(2, 3).narrow(1, 0, 70).max().item<float>(), 0);      // transparent stays transparent
  EXPECT_EQ(t.select(2, 3).narrow(1, 90, 70).min().item<float>(), 255);   // opaque stays opaque
  // Column 80 averages source columns 200-202, one transparent: two-thirds
  // covered, and its colour is the opaque pixels' white, not a grey.
  EXPECT_NEAR(t.select(2, 3).select(1, 80).mean().item<float>(), 170, 2);
  EXPECT_GE(t.select(2, 0).select(1, 80).min().item<float>(), 250);
  // A header that claims 16 megapixels and more is not decoded.
  std::string png = tensor_to_png(at::zeros({1, 8, 8}));
  png[16] = 0, png[17] = 0, png[18] = 0x75, png[19] = 0x30;  // width 30000
  png[20] = 0, png[21] = 0, png[22] = 0x75, png[23] = 0x30;  // height 30000
  EXPECT_FALSE(png_thumbnail(png, 160));
}

}  // namespace
}  // namespace pipette
