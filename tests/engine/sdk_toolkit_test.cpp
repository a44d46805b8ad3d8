// The SDK toolkit plugins and the standard library share (docs/plugins.md):
// the chunked loop, the image contract and its place in the registry cache,
// and the model argument on a device.
#include <gtest/gtest.h>
#include <pugixml.hpp>
#include <torch/script.h>

#include <atomic>
#include <vector>

#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/op_signature.hpp"
#include "engine/signature_xml.hpp"
#include "engine/value_checks.hpp"

namespace pipette {
namespace {

struct Toolkit : ::testing::Test {
  Node node;
  std::atomic<bool> stop{false};
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  OpContext ctx{node, c10::Device(c10::kCPU), 0, {}, {}, &stop, 0, {}, {}};
  void SetUp() override {
    ctx.progress_sink = [this](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  }
};

TEST_F(Toolkit, ChunksCoverEveryItemOnceAndReportProgress) {
  std::vector<std::pair<int64_t, int64_t>> seen;
  for_chunks(ctx, 10, 4, [&](int64_t b, int64_t e) { seen.emplace_back(b, e); });
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(progress, (std::vector<std::pair<uint64_t, uint64_t>>{{4, 10}, {8, 10}, {10, 10}}));
  progress.clear();
  at::Tensor x = at::arange(7, at::kFloat);
  at::Tensor y = map_chunks(ctx, x, 3, [](const at::Tensor& c, int64_t begin) { return c * 2 + begin * 0; },
                            ChunkProgress::Quiet);
  EXPECT_TRUE(y.equal(x * 2));
  EXPECT_TRUE(progress.empty()) << "Quiet chunks reported progress";
  // A chunk size of 0 is one item at a time, not a hang.
  int calls = 0;
  for_chunks(ctx, 3, 0, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 3);
  EXPECT_THROW(map_chunks(ctx, at::empty({0}), 4, [](const at::Tensor& c, int64_t) { return c; }), OpError);
}

TEST_F(Toolkit, ACancelledRunStopsBeforeTheNextChunk) {
  int calls = 0;
  try {
    for_chunks(ctx, 100, 10, [&](int64_t, int64_t) {
      if (++calls == 2) stop = true;
    });
    FAIL() << "no error after cancelling";
  } catch (const OpError& e) {
    EXPECT_STREQ(e.what(), "cancelled");
  }
  EXPECT_EQ(calls, 2);
}

TEST_F(Toolkit, ChunksFitTheBudgetAndTheCpuCache) {
  ctx.memory_budget = 1000;
  EXPECT_EQ(items_per_chunk(ctx, 100, 50), 10);
  EXPECT_EQ(items_per_chunk(ctx, 100, 4), 4);      // capped by the total
  EXPECT_EQ(items_per_chunk(ctx, 5000, 50), 1);    // at least one
  ctx.memory_budget = 0;                           // no budget: 16 MiB chunks on a CPU
  EXPECT_EQ(items_per_chunk(ctx, 1 << 20, 1000), 16);
}

TEST(ImageContract, SaysWhatIsWrongInTheUsersTerms) {
  auto message = [](const at::Tensor& x, std::vector<int64_t> channels = {}) {
    try {
      check_images(x, "images", channels);
    } catch (const OpError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message(at::rand({2, 3, 4, 4})), "");
  EXPECT_EQ(message(at::rand({3, 4, 4})), "images must be images [N, C, H, W], got a tensor of 3 dimensions");
  EXPECT_EQ(message(at::rand({1, 2, 4, 4}), {1, 3}), "images must have 1 or 3 channels, got 2");
  EXPECT_NE(message(at::full({1, 1, 2, 2}, 200.0)).find("must lie in [0, 1], found values in [200, 200] (divide 8-bit "
                                                        "images by 255)"),
            std::string::npos);
  EXPECT_NE(message(at::zeros({1, 1, 2, 2}, at::kByte)).find("must be floating point in [0, 1], found uint8"),
            std::string::npos);
  EXPECT_NE(message(at::full({1, 1, 2, 2}, -0.5)).find("found values in [-0.5, -0.5]"), std::string::npos);
}

TEST(ImageContract, IsDeclaredOnParametersAndKeptInTheRegistryCache) {
  OpSignature s("mine.op", "Doc.");
  s.input("images", "tensor", "Images").images({1, 3}).input("any", "tensor", "Any images").images();
  pugi::xml_document doc;
  write_signature_xml(s, doc);
  OpSignature back = read_signature_xml(doc.child("op"));
  ASSERT_TRUE(back.find_param("images") && back.find_param("any"));
  EXPECT_TRUE(back.find_param("images")->images);
  EXPECT_EQ(back.find_param("images")->image_channels, (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(back.find_param("any")->images);
  EXPECT_TRUE(back.find_param("any")->image_channels.empty());
}

// Plugins' placement facts survive the registry cache, or a cached plugin's
// shards=N would be refused (or lowered differently) from the second run on.
TEST(Placement, LightResourcesAndShardingAreKeptInTheRegistryCache) {
  OpSignature a("mine.score", "Doc."), b("mine.tags", "Doc."), c("mine.draw", "Doc.");
  a.input("inputs", "tensor", "In").input("target", "tensor", "T").param("reduce", "string", Operand::string("mean"), "R");
  a.shardable({"inputs", "target"}, "reduce").resources(Resources{4, 2048, 1, 90, "gpu"});
  b.input("images", "tensor", "In").shardable_via("mine.measure", "mine.cut");
  c.input("x", "tensor", "In").light();
  for (const OpSignature* s : {&a, &b, &c}) {
    pugi::xml_document doc;
    write_signature_xml(*s, doc);
    OpSignature back = read_signature_xml(doc.child("op"));
    EXPECT_EQ(back.is_light(), s->is_light()) << s->name();
    EXPECT_EQ(back.is_shardable(), s->is_shardable()) << s->name();
    EXPECT_EQ(back.shard_params(), s->shard_params()) << s->name();
    EXPECT_EQ(back.shard_reduce_param(), s->shard_reduce_param()) << s->name();
    EXPECT_EQ(back.shard_map_op(), s->shard_map_op()) << s->name();
    EXPECT_EQ(back.shard_finish_op(), s->shard_finish_op()) << s->name();
    EXPECT_TRUE(back.default_resources() == s->default_resources()) << back.default_resources().to_string();
  }
}

TEST(ModelArg, AModelOnTheNodesDeviceIsItselfNotACopy) {
  torch::jit::Module m("M");
  m.register_parameter("w", at::ones({2}), false);
  Node n;
  n.args = {{"model", Operand{}}};
  OpArgs a(n, {Value(m._ivalue())});
  torch::jit::Module got = model_arg(a, "model", c10::Device(c10::kCPU));
  EXPECT_EQ(got._ivalue().get(), m._ivalue().get());
}

}  // namespace
}  // namespace pipette
