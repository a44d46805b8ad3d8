// Golden diagnostics: every tests/lang/golden/NAME.pipe is checked and its
// rendered diagnostics compared with NAME.expected, byte for byte.
// Regenerate after an intended change with PIPETTE_UPDATE_GOLDEN=1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace pipette::test {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::vector<std::string> golden_cases() {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(fs::path(PIPETTE_SOURCE_DIR) / "tests/lang/golden"))
    if (e.path().extension() == ".pipe") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, DiagnosticsMatch) {
  fs::path dir = fs::path(PIPETTE_SOURCE_DIR) / "tests/lang/golden";
  auto saved = fs::current_path();
  fs::current_path(dir);  // so that file names in the output are short and stable
  lang::CompileOptions o;
  o.module_path = {"modules"};
  lang::Compiler c(registry(), o);
  c.compile_file(GetParam() + ".pipe");
  std::string actual = c.render_diagnostics(false);
  fs::current_path(saved);
  fs::path expected_file = dir / (GetParam() + ".expected");
  if (std::getenv("PIPETTE_UPDATE_GOLDEN")) {
    std::ofstream(expected_file, std::ios::binary) << actual;
    GTEST_SKIP() << "updated " << expected_file;
  }
  ASSERT_TRUE(fs::exists(expected_file)) << "no " << expected_file << "; actual output:\n" << actual;
  EXPECT_EQ(read(expected_file), actual);
  EXPECT_FALSE(actual.empty()) << "a golden case must produce at least one diagnostic";
}

INSTANTIATE_TEST_SUITE_P(Lang, Golden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pipette::test
