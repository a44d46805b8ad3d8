// Every ```pipe block in docs/**/*.md compiles without errors, so the reference
// never shows an example that does not work. Blocks fenced ```pipe-error are
// meant to fail and must produce at least one error. docs/plugins/ is left to
// each plugin's tests, which compile its page with the plugin loaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support.hpp"

namespace pipette::test {
namespace {

namespace fs = std::filesystem;

struct Example {
  std::string file;
  int line;
  bool expect_error;
  std::string code;
};

std::vector<Example> examples() {
  std::vector<Example> out;
  fs::path docs = fs::path(PIPETTE_SOURCE_DIR) / "docs";
  for (auto& e : fs::recursive_directory_iterator(docs)) {
    if (e.path().extension() != ".md" || e.path().parent_path() == docs / "plugins") continue;
    std::ifstream in(e.path());
    std::string line;
    int n = 0;
    Example* cur = nullptr;
    while (std::getline(in, line)) {
      ++n;
      if (!cur && (line == "```pipe" || line == "```pipe-error")) {
        out.push_back({fs::relative(e.path(), docs).string(), n, line == "```pipe-error", ""});
        cur = &out.back();
      } else if (cur && line == "```") {
        cur = nullptr;
      } else if (cur) {
        cur->code += line + "\n";
      }
    }
  }
  return out;
}

TEST(DocsExamples, AllCompile) {
  auto all = examples();
  ASSERT_GE(all.size(), 10u) << "docs/language.md should be full of examples";
  for (auto& ex : all) {
    lang::CompileOptions o;
    o.module_path = {std::string(PIPETTE_SOURCE_DIR) + "/stdlib/modules"};
    o.resolve_plugin = [](const std::string& name, OpRegistry& into) -> std::optional<std::string> {
      // The docs show `plugin "toy"`; stand in for it with one signature.
      if (name != "toy") return "not installed";
      into.add(OpSignature("toy.double", "Doubles a tensor.").input("x", "tensor", "in").returns("tensor"));
      return std::nullopt;
    };
    auto c = compile(ex.code, o);
    if (ex.expect_error)
      EXPECT_GT(c.errors, 0u) << ex.file << ":" << ex.line << " should fail to compile";
    else
      EXPECT_EQ(c.errors, 0u) << ex.file << ":" << ex.line << "\n" << c.diagnostics;
  }
}

}  // namespace
}  // namespace pipette::test
