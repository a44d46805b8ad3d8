// The front end's built-in signatures (written out at build time, parsed from
// XML) are the standard library's, field by field: a field the XML dropped
// would make `check` accept or reject differently from `run`.
#include <gtest/gtest.h>

#include "stdlib/signatures/builtin_signatures.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

void expect_same(const ParamSpec& a, const ParamSpec& b, const std::string& where) {
  EXPECT_EQ(a.name, b.name) << where;
  EXPECT_EQ(a.type.to_string(), b.type.to_string()) << where;
  EXPECT_EQ(a.doc, b.doc) << where;
  EXPECT_EQ(a.required, b.required) << where;
  EXPECT_TRUE(a.default_value == b.default_value) << where;
  EXPECT_EQ(a.compile_time, b.compile_time) << where;
  EXPECT_EQ(a.choices, b.choices) << where;
  EXPECT_EQ(a.output_path, b.output_path) << where;
  EXPECT_EQ(a.input_file, b.input_file) << where;
  EXPECT_EQ(a.min, b.min) << where;
  EXPECT_EQ(a.max, b.max) << where;
  EXPECT_EQ(a.feeds, b.feeds) << where;
  EXPECT_EQ(a.images, b.images) << where;
  EXPECT_EQ(a.image_channels, b.image_channels) << where;
}

TEST(Signatures, BuiltinsFromTheBuildEqualTheStdlibs) {
  const OpRegistry& stdlib = stdlib::library().ops;
  const OpRegistry& built = stdlib::builtin_signatures();
  ASSERT_EQ(built.size(), stdlib.size());
  ASSERT_GT(built.size(), 100u);
  for (const OpSignature* s : stdlib.ops()) {
    const OpSignature* b = built.find(s->name());
    ASSERT_TRUE(b) << s->name();
    const std::string& n = s->name();
    EXPECT_EQ(b->to_string(), s->to_string()) << n;
    EXPECT_EQ(b->version(), s->version()) << n;
    EXPECT_EQ(b->doc(), s->doc()) << n;
    EXPECT_EQ(b->output().to_string(), s->output().to_string()) << n;
    EXPECT_EQ(b->output_doc(), s->output_doc()) << n;
    EXPECT_EQ(b->has_side_effects(), s->has_side_effects()) << n;
    EXPECT_EQ(b->is_stochastic(), s->is_stochastic()) << n;
    EXPECT_EQ(b->default_resources().to_string(), s->default_resources().to_string()) << n;
    EXPECT_EQ(b->is_light(), s->is_light()) << n;
    EXPECT_EQ(b->shard_params(), s->shard_params()) << n;
    EXPECT_EQ(b->shard_reduce_param(), s->shard_reduce_param()) << n;
    EXPECT_EQ(b->shard_map_op(), s->shard_map_op()) << n;
    EXPECT_EQ(b->shard_finish_op(), s->shard_finish_op()) << n;
    EXPECT_EQ(b->passes_nonfinite_values(), s->passes_nonfinite_values()) << n;
    EXPECT_EQ(b->may_return_nonfinite_values(), s->may_return_nonfinite_values()) << n;
    EXPECT_EQ(b->plugin(), s->plugin()) << n;
    EXPECT_EQ(b->implemented(), s->implemented()) << n;
    ASSERT_EQ(b->params().size(), s->params().size()) << n;
    for (size_t i = 0; i < s->params().size(); ++i) expect_same(b->params()[i], s->params()[i], n + "." + s->params()[i].name);
  }
  EXPECT_STRNE(stdlib::builtin_libtorch_version(), "");
}

}  // namespace
}  // namespace pipette
