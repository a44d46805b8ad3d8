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

#include "engine/atomic_file.hpp"
#include "engine/html_report.hpp"
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
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onload=x \\x01\\x1b"), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  // The failed node is linked to its script line, which is marked.
  EXPECT_NE(html.find("<a href='#L1'>1</a>"), std::string::npos);
  EXPECT_NE(html.find("<span id=L1 data-n=1 class=node>let x = tensor.random([4])</span>"), std::string::npos);
  EXPECT_NE(html.find("<span id=L2 data-n=2>report &quot;a&quot; = x</span>"), std::string::npos);
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
  EXPECT_NE(html.find("<a href='big.png'>big.png</a>"), std::string::npos);
  EXPECT_EQ(html.find("<h2>Script</h2>"), std::string::npos);  // a script that is not there is left out
}

}  // namespace
}  // namespace pipette
