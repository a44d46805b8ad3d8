// editors/kate/pipe.xml, read back with pugixml: a well-formed KSyntaxHighlighting
// definition whose every reference resolves, whose lists are the language's,
// and which knows every op of the standard library.
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include <set>

#include "lang/syntax.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

namespace pipette::test {
namespace {

class KateXml : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = doc.load_file(PIPETTE_SOURCE_DIR "/editors/kate/pipe.xml");
    ASSERT_TRUE(r) << r.description() << " at byte " << r.offset;
    lang = doc.child("language");
    ASSERT_TRUE(lang);
  }
  std::vector<std::string> list(const char* name) {
    std::vector<std::string> out;
    for (auto item : lang.child("highlighting").find_child_by_attribute("list", "name", name).children("item"))
      out.push_back(item.text().as_string());
    return out;
  }
  pugi::xml_document doc;
  pugi::xml_node lang;
};

TEST_F(KateXml, HeaderDeclaresTheLanguage) {
  EXPECT_STREQ(lang.attribute("name").value(), lang::syntax::kLanguageName);
  EXPECT_STREQ(lang.attribute("extensions").value(), "*.pipe");
  EXPECT_GT(lang.attribute("version").as_int(), 0);
  EXPECT_STREQ(lang.child("general").child("comments").child("comment").attribute("start").value(), "#");
}

TEST_F(KateXml, EveryReferenceResolves) {
  auto hl = lang.child("highlighting");
  std::set<std::string> contexts, styles, lists;
  for (auto c : hl.child("contexts").children("context")) EXPECT_TRUE(contexts.insert(c.attribute("name").value()).second);
  for (auto d : hl.child("itemDatas").children("itemData")) {
    EXPECT_TRUE(styles.insert(d.attribute("name").value()).second);
    EXPECT_EQ(std::string(d.attribute("defStyleNum").value()).rfind("ds", 0), 0u);
  }
  for (auto l : hl.children("list")) lists.insert(l.attribute("name").value());
  ASSERT_FALSE(contexts.empty());
  auto context_ok = [&](const char* c) { return *c == '\0' || *c == '#' || contexts.count(c); };
  size_t rules = 0;
  for (auto c : hl.child("contexts").children("context")) {
    EXPECT_TRUE(styles.count(c.attribute("attribute").value())) << c.attribute("name").value();
    EXPECT_TRUE(context_ok(c.attribute("lineEndContext").value()));
    EXPECT_TRUE(context_ok(c.attribute("fallthroughContext").value()));
    for (auto r : c.children()) {
      ++rules;
      EXPECT_TRUE(styles.count(r.attribute("attribute").value())) << r.name() << " in " << c.attribute("name").value();
      EXPECT_TRUE(context_ok(r.attribute("context").value())) << r.attribute("context").value();
      if (std::string(r.name()) == "keyword") {
        EXPECT_TRUE(lists.count(r.attribute("String").value()));
      }
    }
  }
  EXPECT_GT(rules, 10u);
}

TEST_F(KateXml, ListsComeFromTheLanguageAndTheRegistry) {
  EXPECT_EQ(list("keywords"), lang::syntax::keywords());
  EXPECT_EQ(list("constants"), lang::syntax::constants());
  auto ops = list("ops");
  std::set<std::string> have(ops.begin(), ops.end());
  for (auto* sig : stdlib::builtin_signatures().ops()) EXPECT_TRUE(have.count(sig->name())) << sig->name();
}

}  // namespace
}  // namespace pipette::test
