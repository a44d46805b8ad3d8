// What a node's job asks a cluster for: sizes, durations in Slurm's forms and
// ours, merging, and the text that signatures and the graph carry.
#include <gtest/gtest.h>

#include "engine/resources.hpp"

namespace pipette {
namespace {

TEST(Resources, MemoryInMebibytesAsSlurmReadsIt) {
  EXPECT_EQ(parse_memory_mib("800"), 800);  // a bare number is MiB, as for sbatch --mem
  EXPECT_EQ(parse_memory_mib("512M"), 512);
  EXPECT_EQ(parse_memory_mib("16G"), 16384);
  EXPECT_EQ(parse_memory_mib("1.5G"), 1536);
  EXPECT_EQ(parse_memory_mib("2T"), 2 * 1024 * 1024);
  EXPECT_EQ(parse_memory_mib("1K"), 1);  // rounded up, never 0
  for (const char* bad : {"", "G", "-1G", "16X", "nan", "inf", "2000P"}) EXPECT_FALSE(parse_memory_mib(bad)) << bad;
}

TEST(Resources, DurationsInSlurmsFormsAndShortOnes) {
  EXPECT_EQ(parse_minutes("90"), 90);          // MM
  EXPECT_EQ(parse_minutes("30:30"), 31);       // MM:SS, rounded up
  EXPECT_EQ(parse_minutes("1:30:00"), 90);     // HH:MM:SS
  EXPECT_EQ(parse_minutes("2-12"), 3600);      // D-HH
  EXPECT_EQ(parse_minutes("1-00:30"), 1470);   // D-HH:MM
  EXPECT_EQ(parse_minutes("1-00:00:01"), 1441);
  EXPECT_EQ(parse_minutes("30m"), 30);
  EXPECT_EQ(parse_minutes("2h"), 120);
  EXPECT_EQ(parse_minutes("1d"), 1440);
  EXPECT_EQ(parse_minutes("90s"), 2);
  for (const char* bad : {"", "0", "0m", "h", "1:2:3:4", "-5", "1.5h", "x-1", "2-"}) EXPECT_FALSE(parse_minutes(bad)) << bad;
  EXPECT_EQ(slurm_time(90), "01:30:00");
  EXPECT_EQ(slurm_time(1470), "1-00:30:00");
}

TEST(Resources, KeysAreCheckedWithMessagesThatNameTheValue) {
  Resources r;
  EXPECT_FALSE(set_resource(r, "cpus", "4"));
  EXPECT_FALSE(set_resource(r, "mem", "16G"));
  EXPECT_FALSE(set_resource(r, "gpus", "1"));
  EXPECT_FALSE(set_resource(r, "time", "2h"));
  EXPECT_FALSE(set_resource(r, "partition", "gpu-a100"));
  EXPECT_EQ(r.to_string(), "cpus=4 mem=16G gpus=1 time=02:00:00 partition=gpu-a100");
  EXPECT_EQ(*set_resource(r, "cpus", "0"), "cpus expects a whole number from 1 to 4096, got '0'");
  EXPECT_EQ(*set_resource(r, "mem", "lots"), "mem expects a size such as 512M or 16G, got 'lots'");
  EXPECT_NE(set_resource(r, "partition", "a b")->find("partition's name"), std::string::npos);
  EXPECT_EQ(*set_resource(r, "gpu", "1"), "no resource is called 'gpu'; a request names cpus, mem, gpus, time, partition");
  // The text round-trips: signatures carry it in the plugin registry's cache.
  Resources back;
  for (const char* kv : {"cpus=4", "mem=16G", "gpus=1", "time=02:00:00", "partition=gpu-a100"}) {
    std::string s = kv;
    auto eq = s.find('=');
    EXPECT_FALSE(set_resource(back, s.substr(0, eq), s.substr(eq + 1)));
  }
  EXPECT_EQ(back, r);
}

TEST(Resources, ACallsRequestOverTheOpsDefaults) {
  Resources op, call;
  op.cpus = 2;
  op.mem_mb = 4096;
  call.mem_mb = 16384;
  call.gpus = 1;
  Resources r = call.over(op);
  EXPECT_EQ(r.cpus, 2);
  EXPECT_EQ(r.mem_mb, 16384);
  EXPECT_EQ(r.gpus, 1);
  EXPECT_FALSE(r.minutes);
  EXPECT_TRUE(Resources{}.empty());
}

}  // namespace
}  // namespace pipette
