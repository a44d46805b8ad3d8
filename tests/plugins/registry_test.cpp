// The registry cache and its helper-process scanner: a crashing or hanging
// plugin is contained and remembered; unchanged files are not scanned again;
// a touched-but-identical file keeps its record; a changed one is rescanned;
// world-writable directories are refused.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/plugin_loader.hpp"
#include "engine/plugin_registry.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

fs::path plugin_file(const std::string& name) {
  return fs::path(PLUGINS_DIR) / name / ("libpipette-" + name + ".so");
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pipette-registry-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

PluginScanner scanner() {
  PluginScanner s;
  s.command = {PIPETTE_EXE, "__scan-plugin"};
  // Long enough for the crashing plugin to crash first: the helper spends ~1 s
  // loading LibTorch's libraries before it opens the plugin, and with both
  // cores busy that took more than 3 s once (the crash was called a hang).
  s.timeout_s = 10;
  return s;
}

const PluginRecord* by_file(const PluginRegistry& reg, const std::string& stem) {
  for (auto& r : reg.plugins())
    if (r.file.filename() == "libpipette-" + stem + ".so") return &r;
  return nullptr;
}

TEST(PluginRegistry, ScansInAHelperAndRemembersBrokenPlugins) {
  TempDir tmp;
  fs::path dir = tmp.path / "plugins";
  fs::create_directories(dir);
  for (auto name : {"hello", "crashes", "hangs", "throws", "clash"})
    fs::copy_file(plugin_file(name), dir / plugin_file(name).filename());
  fs::path cache = tmp.path / "registry.xml";

  {
    PluginRegistry reg(cache, host_fingerprint(), scanner());
    reg.update({dir});
    EXPECT_EQ(reg.scans(), 5u);
    ASSERT_EQ(reg.plugins().size(), 5u);
    auto* hello = by_file(reg, "hello");
    ASSERT_NE(hello, nullptr);
    EXPECT_EQ(hello->status, PluginRecord::Status::Ok);
    ASSERT_EQ(hello->ops.size(), 2u);
    EXPECT_EQ(hello->ops[1].to_string(), "hello.scale(x: tensor, factor: float = 2.0) -> tensor");
    EXPECT_EQ(hello->ops[1].find_param("factor")->max, 1e6);
    EXPECT_EQ(reg.find("hello"), hello);

    auto* crashes = by_file(reg, "crashes");
    ASSERT_NE(crashes, nullptr);
    EXPECT_EQ(crashes->status, PluginRecord::Status::Crashed);
    EXPECT_NE(crashes->reason.find("signal 11"), std::string::npos) << crashes->reason;
    auto* hangs = by_file(reg, "hangs");
    ASSERT_NE(hangs, nullptr);
    EXPECT_EQ(hangs->status, PluginRecord::Status::Hung);
    auto* throws = by_file(reg, "throws");
    ASSERT_NE(throws, nullptr);
    EXPECT_EQ(throws->status, PluginRecord::Status::Failed);
    EXPECT_NE(throws->reason.find("no licence server reachable"), std::string::npos) << throws->reason;
    auto* clash = by_file(reg, "clash");
    ASSERT_NE(clash, nullptr);
    EXPECT_EQ(clash->status, PluginRecord::Status::Failed);
    EXPECT_NE(clash->reason.find("'tensor.add' clashes"), std::string::npos) << clash->reason;
    EXPECT_EQ(reg.find("bad"), nullptr);
    EXPECT_GE(reg.warnings().size(), 4u);
  }

  // A new process reading the cache: nothing is scanned, broken plugins stay broken.
  PluginRegistry again(cache, host_fingerprint(), scanner());
  again.update({dir});
  EXPECT_EQ(again.scans(), 0u);
  EXPECT_EQ(by_file(again, "crashes")->status, PluginRecord::Status::Crashed);
  EXPECT_EQ(again.find("hello")->ops.size(), 2u);

  // Touched, same bytes: kept. Changed bytes: scanned again.
  fs::last_write_time(dir / "libpipette-hello.so", fs::file_time_type::clock::now() + std::chrono::seconds(5));
  again.update({dir});
  EXPECT_EQ(again.scans(), 0u);
  fs::copy_file(plugin_file("hello"), dir / "libpipette-crashes.so", fs::copy_options::overwrite_existing);
  again.update({dir});
  EXPECT_EQ(again.scans(), 1u);
  EXPECT_EQ(by_file(again, "crashes")->status, PluginRecord::Status::Ok);
  // Two files now claim "hello": the first in search order wins, with a warning.
  bool warned = false;
  for (auto& w : again.warnings()) warned |= w.find("is hidden by") != std::string::npos;
  EXPECT_TRUE(warned);
  EXPECT_EQ(again.find("hello")->file.filename(), "libpipette-crashes.so");

  // A cache from another build is discarded whole.
  PluginRegistry other(cache, host_fingerprint() + "-other", scanner());
  other.update({dir});
  EXPECT_EQ(other.scans(), 5u);
}

TEST(PluginRegistry, RefusesWorldWritableDirectories) {
  TempDir tmp;
  fs::path dir = tmp.path / "open";
  fs::create_directories(dir);
  fs::copy_file(plugin_file("hello"), dir / "libpipette-hello.so");
  ::chmod(dir.c_str(), 0777);
  PluginRegistry reg({}, host_fingerprint(), scanner());
  reg.update({dir});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.warnings().size(), 1u);
  EXPECT_NE(reg.warnings()[0].find("world-writable"), std::string::npos);
  EXPECT_EQ(reg.scans(), 0u);
}

TEST(PluginRegistry, ASwapThatKeepsSizeAndMtimeIsScannedAgain) {
  // cp -p, rsync -t and install -p keep mtime; a file of the same size put in
  // place that way was trusted from the cache and loaded unscanned.
  TempDir tmp;
  fs::path dir = tmp.path / "plugins";
  fs::create_directories(dir);
  fs::path so = dir / "libpipette-hello.so";
  fs::copy_file(plugin_file("hello"), so);
  fs::path cache = tmp.path / "registry.xml";
  {
    PluginRegistry reg(cache, host_fingerprint(), scanner());
    reg.update({dir});
    ASSERT_EQ(reg.scans(), 1u);
    EXPECT_EQ(reg.find("hello")->description, "An example plugin: greetings and scaled tensors");
  }
  // The same bytes but for one letter of the description, and the old mtime.
  auto mtime = fs::last_write_time(so);
  std::string bytes;
  {
    std::ifstream in(so, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), {});
  }
  size_t at = bytes.find("An example plugin: greetings");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'A' + 1;  // "Bn example ..."
  fs::path swapped = tmp.path / "swapped.so";
  std::ofstream(swapped, std::ios::binary) << bytes;
  fs::rename(swapped, so);
  fs::last_write_time(so, mtime);
  ASSERT_EQ(fs::file_size(so), fs::file_size(plugin_file("hello")));
  PluginRegistry reg(cache, host_fingerprint(), scanner());
  reg.update({dir});
  EXPECT_EQ(reg.scans(), 1u);
  ASSERT_NE(reg.find("hello"), nullptr);
  EXPECT_EQ(reg.find("hello")->description, "Bn example plugin: greetings and scaled tensors");
  EXPECT_TRUE(same_file_as_scanned(*reg.find("hello"), so));
  // Swapped once more after the scan: the loader's last check sees it.
  fs::copy_file(plugin_file("hello"), swapped);
  fs::rename(swapped, so);
  fs::last_write_time(so, mtime);
  EXPECT_FALSE(same_file_as_scanned(*reg.find("hello"), so));
}

TEST(PluginRegistry, RefusesPluginsAnyoneCouldReplace) {
  TempDir tmp;
  // A plugin directory whose parent anyone may write to (no sticky bit): the
  // directory itself could be renamed away and replaced.
  fs::path open_parent = tmp.path / "shared";
  fs::create_directories(open_parent / "plugins");
  fs::copy_file(plugin_file("hello"), open_parent / "plugins" / "libpipette-hello.so");
  ::chmod(open_parent.c_str(), 0777);
  // A safe directory holding a symbolic link into a world-writable one.
  fs::path safe = tmp.path / "safe";
  fs::path drop = tmp.path / "drop";
  fs::create_directories(safe);
  fs::create_directories(drop);
  fs::copy_file(plugin_file("hello"), drop / "libpipette-hello.so");
  ::chmod(drop.c_str(), 0777);
  fs::create_symlink(drop / "libpipette-hello.so", safe / "libpipette-hello.so");
  // /tmp-like: world-writable with the sticky bit above a private directory is fine.
  fs::path sticky = tmp.path / "sticky";
  fs::create_directories(sticky / "mine");
  fs::copy_file(plugin_file("hello"), sticky / "mine" / "libpipette-hello.so");
  ::chmod(sticky.c_str(), 01777);

  PluginRegistry reg({}, host_fingerprint(), scanner());
  reg.update({open_parent / "plugins"});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.warnings().size(), 1u);
  EXPECT_NE(reg.warnings()[0].find("which anyone may write to"), std::string::npos) << reg.warnings()[0];
  reg.update({safe});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.warnings().size(), 1u);
  EXPECT_NE(reg.warnings()[0].find(drop.string()), std::string::npos) << reg.warnings()[0];
  reg.update({sticky / "mine"});
  EXPECT_EQ(reg.plugins().size(), 1u);
  EXPECT_TRUE(reg.warnings().empty());
  EXPECT_EQ(reg.scans(), 1u);
  ::chmod(open_parent.c_str(), 0755);
  ::chmod(drop.c_str(), 0755);
  ::chmod(sticky.c_str(), 0755);
}

TEST(PluginRegistry, SearchPathOrder) {
  ::setenv("PIPETTE_PLUGIN_PATH", "/env/a:/env/b", 1);
  auto dirs = plugin_search_dirs({"/cli/x:/cli/y", "/cli/z"}, "/installed");
  ::unsetenv("PIPETTE_PLUGIN_PATH");
  std::vector<fs::path> want = {"/cli/x", "/cli/y", "/cli/z", "/env/a", "/env/b", "/installed"};
  EXPECT_EQ(dirs, want);
}

}  // namespace
}  // namespace pipette
