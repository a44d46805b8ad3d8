// `pipette fmt` (lang/format.cpp) and the lexer under it: canonical spacing
// and indentation on hand-written cases, comments kept, idempotence and token
// preservation on every example, and formatted examples compiling to the same
// graph as the originals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lang/compiler.hpp"
#include "lang/format.hpp"
#include "lang/lexer.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

namespace pipette::test {
namespace {

namespace fs = std::filesystem;

std::string fmt(const std::string& s) {
  auto r = lang::format_source(s);
  EXPECT_EQ(r.error, "") << s;
  return r.text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> scripts() {
  std::vector<fs::path> out;
  for (auto dir : {"examples", "examples/hello-plugin", "stdlib/modules", "tests/editors"})
    for (auto& e : fs::directory_iterator(fs::path(PIPETTE_SOURCE_DIR) / dir))
      if (e.path().extension() == ".pipe") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Lexer, ClassifiesTokens) {
  auto t = lang::lex("let x = f(a, n=-2.5e3) |> g  # c\n\"s{x}\\\"\" true");
  std::vector<std::pair<lang::TokenKind, std::string>> got;
  for (auto& k : t) got.emplace_back(k.kind, std::string(k.text));
  using K = lang::TokenKind;
  std::vector<std::pair<lang::TokenKind, std::string>> want = {
      {K::Keyword, "let"}, {K::Identifier, "x"}, {K::Punct, "="},      {K::Identifier, "f"},
      {K::Punct, "("},     {K::Identifier, "a"}, {K::Punct, ","},      {K::Identifier, "n"},
      {K::Punct, "="},     {K::Number, "-2.5e3"}, {K::Punct, ")"},     {K::Punct, "|>"},
      {K::Identifier, "g"}, {K::Comment, "# c"}, {K::Newline, "\n"},   {K::String, "\"s{x}\\\"\""},
      {K::Constant, "true"}};
  EXPECT_EQ(got, want);
}

TEST(Lexer, UnterminatedStringAndStrayCharactersAreErrors) {
  auto t = lang::lex("let s = \"abc\nlet y = 1 ? 2");
  ASSERT_GE(t.size(), 4u);
  EXPECT_EQ(t[3].kind, lang::TokenKind::Error);
  EXPECT_EQ(t[3].text, "\"abc");
  bool stray = false;
  for (auto& k : t) stray |= k.kind == lang::TokenKind::Error && k.text == "?";
  EXPECT_TRUE(stray);
}

TEST(Format, CanonicalSpacing) {
  EXPECT_EQ(fmt("let   x=f( a ,n = 3 ,m=[1,2 ] ).y\n"), "let x = f(a, n=3, m=[1, 2]).y\n");
  EXPECT_EQ(fmt("param  k :list< int >|tensor=[ ]\n"), "param k: list<int>|tensor = []\n");
  EXPECT_EQ(fmt("report \"a_{n}\"=x|>g( 1 )|>h\n"), "report \"a_{n}\" = x |> g(1) |> h\n");
  EXPECT_EQ(fmt("let r={ a:1 , b : \"s\" }\n"), "let r = {a: 1, b: \"s\"}\n");
  EXPECT_EQ(fmt("pipeline p( x : tensor , n : int=2 , m=3 ){\nreturn x\n}\n"),
            "pipeline p(x: tensor, n: int = 2, m=3) {\n  return x\n}\n");
  EXPECT_EQ(fmt("param r: record{a: int}\n"), "param r: record{a: int}\n");
}

TEST(Format, IndentationFollowsBracketsAndPipes) {
  EXPECT_EQ(fmt("for n in [1,2] {\n      for m in [3] {\nreport \"x\" = f(n,\nm)\n}\n   }\n"),
            "for n in [1, 2] {\n  for m in [3] {\n    report \"x\" = f(n,\n                   m)\n  }\n}\n");
  EXPECT_EQ(fmt("let xs = [\n1,\n    2,\n]\n"), "let xs = [\n  1,\n  2,\n]\n");
  EXPECT_EQ(fmt("let y = x\n|> f\n        |> g\n"), "let y = x\n  |> f\n  |> g\n");
}

TEST(Format, KeepsCommentsAndAlignsTrailingOnes) {
  EXPECT_EQ(fmt("# head   \n\n\n\nparam a: int = 1 # one\nparam bb: int = 22      # two\n\nlet c = a # three\n\n"),
            "# head\n\nparam a: int = 1    # one\nparam bb: int = 22  # two\n\nlet c = a  # three\n");
  EXPECT_EQ(fmt("let x = f(1,  # first\n  2)\n"), "let x = f(1,  # first\n          2)\n");
  EXPECT_EQ(fmt(""), "");
}

// `;` separates statements on one line (docs/language.md's own example); fmt
// refused it as a character it could not lex.
TEST(Format, SemicolonsSeparateStatementsOnALine) {
  EXPECT_EQ(fmt("let m = tensor.mean(d.images)  ;report \"mean\"=m\n"),
            "let m = tensor.mean(d.images); report \"mean\" = m\n");
  EXPECT_EQ(fmt("pipeline f(x){let y = x;return y}\n"), "pipeline f(x) { let y = x; return y }\n");
  EXPECT_EQ(fmt("for n in [1,2] {report \"a_{n}\" = n ; report \"b_{n}\" = {a:n}}\n"),
            "for n in [1, 2] { report \"a_{n}\" = n; report \"b_{n}\" = {a: n} }\n");
  // The line stays one that compiles to the same graph.
  std::string src = "param k: int = 2\nlet a = k; let b = a\nreport \"b\" = b; report \"a\" = a\n";
  lang::Compiler before(stdlib::builtin_signatures(), {}), after(stdlib::builtin_signatures(), {});
  auto g1 = before.compile_text("s.pipe", src), g2 = after.compile_text("s.pipe", fmt(src));
  ASSERT_TRUE(g1 && g2) << before.render_diagnostics() << after.render_diagnostics();
  EXPECT_EQ(g1->nodes.size(), g2->nodes.size());
}

TEST(Format, RefusesWhatItCannotLex) {
  EXPECT_NE(lang::format_source("let s = \"open\n").error, "");
  EXPECT_NE(lang::format_source("let s = 1 ? 2\n").error, "");
}

// Every script in the repository is already in canonical form (CI's `pipette fmt
// --check`), formatting is idempotent, and a messed-up copy formats back to it.
TEST(Format, ExamplesAreCanonicalAndIdempotent) {
  auto files = scripts();
  ASSERT_GE(files.size(), 6u);
  for (auto& f : files) {
    std::string text = read(f);
    EXPECT_EQ(fmt(text), text) << f << " is not formatted (run `pipette fmt " << f.string() << "`)";
    // Destroy the layout within lines: indentation and spacing go, line breaks stay.
    std::string messy;
    for (auto& t : lang::lex(text)) {
      if (t.kind == lang::TokenKind::Newline) messy += "\n";
      else messy += std::string(t.text) + "   ";
    }
    EXPECT_EQ(fmt(messy), text) << f;
    EXPECT_EQ(fmt(fmt(messy)), fmt(messy)) << f;
  }
}

// What matters most: formatting never changes what a script means.
TEST(Format, FormattedScriptsCompileToTheSameGraph) {
  for (auto& f : scripts()) {
    std::string text = read(f);
    if (text.find("plugin \"") != std::string::npos || text.find("import ") != std::string::npos) continue;
    std::string messy;
    for (auto& t : lang::lex(text)) messy += t.kind == lang::TokenKind::Newline ? "\n" : std::string(t.text) + "  ";
    auto graph_of = [&](const std::string& src) {
      lang::Compiler c(stdlib::builtin_signatures(), {});
      auto g = c.compile_text(f.string(), src);
      EXPECT_TRUE(g.has_value()) << f << "\n" << c.render_diagnostics();
      std::vector<std::string> ops;
      if (g)
        for (auto& n : g->nodes) ops.push_back(n.op);
      return ops;
    };
    auto a = graph_of(messy), b = graph_of(fmt(messy));
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, b) << f;
  }
}

}  // namespace
}  // namespace pipette::test
