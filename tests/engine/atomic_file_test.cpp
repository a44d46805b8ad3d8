// Writes that never leave their directory, never leave half a file, never
// follow a symbolic link planted in an output directory; temporary files of
// dead writers are recognised; report and save names never share a file.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "engine/atomic_file.hpp"
#include "engine/checked_size.hpp"
#include "engine/run_layout.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-atomic-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out");
    fs::create_directories(dir_ / "outside");
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Files in `d`, recursively, as relative paths.
  std::set<std::string> files(const fs::path& d) {
    std::set<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(d)) out.insert(fs::relative(e.path(), d).string());
    return out;
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesCreateDirectoriesInsideTheRoot) {
  write_inside(dir_ / "out", "a/b/c.txt", "hello");
  EXPECT_EQ(read(dir_ / "out" / "a" / "b" / "c.txt"), "hello");
  write_inside(dir_ / "out", "a/./b//c.txt", "again");  // the same file, replaced whole
  EXPECT_EQ(read(dir_ / "out" / "a" / "b" / "c.txt"), "again");
  EXPECT_EQ(files(dir_ / "out"), (std::set<std::string>{"a", "a/b", "a/b/c.txt"}));  // no temporary file left
}

TEST_F(AtomicFileTest, ASymlinkedDirectoryInTheOutputIsRefusedNotFollowed) {
  fs::create_directory_symlink("../outside", dir_ / "out" / "reports");
  try {
    write_inside(dir_ / "out", "reports/x.pt", "secret");
    FAIL() << "wrote through a symbolic link";
  } catch (const FileWriteError& e) {
    EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(files(dir_ / "outside").empty());
}

TEST_F(AtomicFileTest, AFileSymlinkIsReplacedAndItsTargetLeftAlone) {
  // What an .svg output did before: open the link and overwrite its target.
  std::ofstream(dir_ / "outside" / "victim.txt") << "precious";
  fs::create_symlink("../outside/victim.txt", dir_ / "out" / "plot.svg");
  write_inside(dir_ / "out", "plot.svg", "<svg/>");
  EXPECT_EQ(read(dir_ / "outside" / "victim.txt"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir_ / "out" / "plot.svg"));
  EXPECT_EQ(read(dir_ / "out" / "plot.svg"), "<svg/>");
}

TEST_F(AtomicFileTest, PathsThatLeaveTheRootAreRefused) {
  for (std::string bad : {"../x", "a/../../x", "/tmp/x", "", "."}) {
    EXPECT_THROW(write_inside(dir_ / "out", bad, "x"), FileWriteError) << bad;
  }
  EXPECT_TRUE(files(dir_ / "outside").empty());
}

TEST_F(AtomicFileTest, AFailedWriteLeavesTheOldFileAndNoTemporaryFile) {
  write_inside(dir_ / "out", "f.txt", "old");
  fs::create_directories(dir_ / "out" / "d");
  EXPECT_THROW(write_inside(dir_ / "out", "d", "a file where a directory is"), FileWriteError);
  {
    DirHandle root = open_or_create_dir(dir_ / "out");
    AtomicFile f(root, "f.txt");
    f.write("new but never committed");
  }  // destroyed without commit: an exception on the way
  EXPECT_EQ(read(dir_ / "out" / "f.txt"), "old");
  EXPECT_EQ(files(dir_ / "out"), (std::set<std::string>{"d", "f.txt"}));
}

TEST_F(AtomicFileTest, LargeWritesAndPatchesStreamThroughTheBuffer) {
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  DirHandle root = open_or_create_dir(dir_ / "out");
  AtomicFile f(root, "big.bin");
  f.write("HEAD", 4);
  f.write(big);
  f.write("tail", 4);
  f.patch(0, "head", 4);
  f.commit();
  EXPECT_EQ(read(dir_ / "out" / "big.bin"), "head" + big + "tail");
}

TEST_F(AtomicFileTest, TemporaryFilesOfDeadWritersAreStale) {
  EXPECT_TRUE(is_temp_file_name("0123456789abcdef.entry.tmp4242"));
  EXPECT_TRUE(is_temp_file_name("report.json.tmp17-3"));
  EXPECT_FALSE(is_temp_file_name("report.json"));
  EXPECT_FALSE(is_temp_file_name("x.tmp"));
  EXPECT_FALSE(is_temp_file_name("x.tmp12-"));
  // A pid far above pid_max: that writer is gone. Fresh files may still be in
  // the middle of a rename on another machine of a shared filesystem: a minute's grace.
  fs::path dead = dir_ / "out" / "e.entry.tmp999999999-0";
  std::ofstream(dead) << "half";
  EXPECT_FALSE(is_stale_temp_file(dead));
  fs::last_write_time(dead, fs::file_time_type::clock::now() - std::chrono::minutes(5));
  EXPECT_TRUE(is_stale_temp_file(dead));
  fs::path mine = dir_ / "out" / ("e.entry.tmp" + std::to_string(::getpid()) + "-0");
  std::ofstream(mine) << "being written";
  fs::last_write_time(mine, fs::file_time_type::clock::now() - std::chrono::minutes(5));
  EXPECT_FALSE(is_stale_temp_file(mine));  // its writer (this process) is alive
  fs::last_write_time(mine, fs::file_time_type::clock::now() - std::chrono::hours(25));
  EXPECT_TRUE(is_stale_temp_file(mine));  // a day old: nobody writes that long
}

TEST(CheckedSize, ArithmeticNearTwoToTheSixtyFourDoesNotWrap) {
  // The safetensors case: offsets that wrap around 2^64 to land inside the file.
  EXPECT_FALSE(checked_range_inside(UINT64_MAX - 7, 16, 1000));
  EXPECT_FALSE(checked_range_inside(8, UINT64_MAX, 1000));
  EXPECT_TRUE(checked_range_inside(8, 992, 1000));
  EXPECT_FALSE(checked_range_inside(8, 993, 1000));
  EXPECT_FALSE(checked_tensor_bytes({1 << 30, 1 << 30, 1 << 30}, 4));
  EXPECT_FALSE(checked_tensor_bytes({-5}, 4));
  EXPECT_EQ(checked_tensor_bytes({3, 0, 1 << 30}, 8), 0u);
  EXPECT_EQ(checked_tensor_bytes({2, 3}, 4), 24u);
  EXPECT_FALSE(checked_mul(int64_t{1} << 62, int64_t{4}));
}

TEST(RunLayout, ReportNamesBecomeDistinctPortableFiles) {
  EXPECT_EQ(report_file_stem("a b"), "a_b");
  EXPECT_EQ(report_file_stem("acc/test"), "acc_test");
  EXPECT_EQ(report_file_stem(".."), "report..");
  std::string long_a(256, 'a'), long_b = long_a;
  long_b.back() = 'b';
  EXPECT_LE(report_file_stem(long_a).size(), 96u);
  EXPECT_NE(report_file_stem(long_a), report_file_stem(long_b));  // cut, but still distinct
  // A list report never takes another report's file: "two" has reports/two/0.pt, "two_1" has reports/two_1.pt.
  EXPECT_EQ(report_tensor_file("two", 1, 2), "reports/two/1.pt");
  EXPECT_EQ(report_tensor_file("two_1", 0, 1), "reports/two_1.pt");
  EXPECT_EQ(normalized_output_path("a/./b//c.png"), "a/b/c.png");
  EXPECT_FALSE(normalized_output_path("a/../../b"));
  EXPECT_TRUE(reserved_output_path("report.json"));
  EXPECT_TRUE(reserved_output_path("reports/x.pt"));
  EXPECT_TRUE(reserved_output_path(kRunMarkerFile));
  EXPECT_FALSE(reserved_output_path("reports.csv"));
}

}  // namespace
}  // namespace pipette
