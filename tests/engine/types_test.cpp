// The type notation round-trips, and assignability follows the documented rules.
#include <gtest/gtest.h>

#include "engine/types.hpp"

namespace pipette {
namespace {

Type T(const char* s) {
  auto t = Type::parse(s);
  EXPECT_TRUE(t) << s;
  return t ? *t : Type::any();
}

TEST(Types, NotationRoundTrips) {
  for (const char* s : {"int", "float", "list<list<int>>", "record", "record{images: tensor, labels: tensor}", "dataset{images: tensor}",
                        "int|tensor|none", "list<float|string>", "any", "model", "dataset", "table"})
    EXPECT_EQ(T(s).to_string(), s);
}

TEST(Types, RejectsBadNotation) {
  for (const char* s : {"", "flaot", "list<", "list<int", "record{a}", "int|", "record{a: int", "int int"})
    EXPECT_FALSE(Type::parse(s)) << s;
  EXPECT_FALSE(Type::parse(std::string(1000, '<').insert(0, "list")));  // deep nesting stops early
}

TEST(Types, Assignability) {
  EXPECT_TRUE(T("float").accepts(T("int")));
  EXPECT_FALSE(T("int").accepts(T("float")));
  EXPECT_TRUE(T("list<float>").accepts(T("list<int>")));
  EXPECT_FALSE(T("list<int>").accepts(T("list<string>")));
  EXPECT_TRUE(T("int|tensor").accepts(T("tensor")));
  EXPECT_FALSE(T("int|tensor").accepts(T("string")));
  EXPECT_TRUE(T("float").accepts(T("int|float")));      // every alternative fits
  EXPECT_FALSE(T("int").accepts(T("int|string")));
  EXPECT_TRUE(T("record{a: int}").accepts(T("record{a: int, b: string}")));
  EXPECT_FALSE(T("record{a: int, c: int}").accepts(T("record{a: int}")));
  EXPECT_TRUE(T("record").accepts(T("record{x: tensor}")));
  EXPECT_TRUE(T("any").accepts(T("model")));
  EXPECT_TRUE(T("model").accepts(T("any")));
}

TEST(Types, UnionsFlattenAndDeduplicate) {
  EXPECT_EQ(Type::union_of({T("int"), T("int|string"), T("int")}).to_string(), "int|string");
  EXPECT_EQ(Type::union_of({T("int")}).to_string(), "int");
  EXPECT_EQ(Type::union_of({T("int"), T("any")}).to_string(), "any");
}

TEST(Types, ConstantKinds) {
  EXPECT_TRUE(T("list<record{a: int}>").is_constant_kind());
  EXPECT_FALSE(T("tensor").is_constant_kind());
  EXPECT_FALSE(T("list<model>").is_constant_kind());
}

}  // namespace
}  // namespace pipette
