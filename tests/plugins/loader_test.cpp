// Loading plugins in process: the example plugin works end to end; every kind
// of broken plugin is refused with a message naming it and the reason, and
// leaves the host's library as it was.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/executor.hpp"
#include "engine/plugin_loader.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

fs::path plugin_file(const std::string& name) {
  return fs::path(PLUGINS_DIR) / name / ("libpipette-" + name + ".so");
}

OpLibrary fresh_library() {
  OpLibrary lib;
  stdlib::register_all(lib);
  return lib;
}

TEST(PluginLoader, ExamplePluginRegistersItsOpsAndTheyRun) {
  OpLibrary lib = fresh_library();
  size_t before = lib.ops.size();
  PluginLoad r = load_plugin(plugin_file("hello"), lib);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.plugin->name, "hello");
  EXPECT_EQ(r.plugin->version, "0.1.0");
  EXPECT_EQ(r.plugin->ops, (std::vector<std::string>{"hello.greet", "hello.scale"}));
  EXPECT_EQ(lib.ops.size(), before + 2);
  ASSERT_NE(lib.ops.find("hello.scale"), nullptr);
  EXPECT_EQ(lib.ops.find("hello.scale")->plugin(), "hello");

  // Compile against the plugin's signatures and execute with its implementations.
  lang::CompileOptions o;
  o.resolve_plugin = [&](const std::string& name, OpRegistry& into) -> std::optional<std::string> {
    if (name != "hello") return "unknown";
    for (auto& op : r.plugin->ops) into.add(*lib.ops.find(op));
    return std::nullopt;
  };
  OpLibrary host = fresh_library();  // the compiler sees the stdlib; the plugin's ops come via `plugin`
  lang::Compiler c(host.ops, o);
  auto g = c.compile_text("t.pipe",
                          "plugin \"hello\"\n"
                          "report \"g\" = hello.greet(who=\"tests\")\n"
                          "report \"s\" = hello.scale(tensor.random([4], seed=1), factor=-0.5)\n"
                          "report \"bad\" = hello.scale(tensor.random([4], seed=1), factor=0.0)\n");
  ASSERT_TRUE(g) << c.render_diagnostics();
  RunOptions ro;
  ro.jobs = 1;
  Execution e = execute(*g, lib.ops, lib.impls, ro);
  ASSERT_EQ(e.reports.size(), 2u);
  EXPECT_EQ(e.reports[0].second.toStringRef(), "hello, tests!");
  at::Tensor x = at::randn({4}, at::Generator());  // shape check only; the value is the plugin's
  EXPECT_EQ(e.reports[1].second.toTensor().sizes(), x.sizes());
  // An OpError thrown inside the plugin reaches the host as that node's failure.
  EXPECT_EQ(e.failed, 1u);
  bool saw = false;
  for (auto& n : e.nodes) saw |= n.error.find("factor 0 would erase") != std::string::npos;
  EXPECT_TRUE(saw);
}

struct BadCase {
  const char* plugin;
  const char* expected;  // a part of the message
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.plugin; }

class BrokenPlugin : public ::testing::TestWithParam<BadCase> {};

TEST_P(BrokenPlugin, IsRefusedWithAReasonAndChangesNothing) {
  OpLibrary lib = fresh_library();
  size_t before = lib.ops.size();
  PluginLoad r = load_plugin(plugin_file(GetParam().plugin), lib);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find(plugin_file(GetParam().plugin).string()), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(GetParam().expected), std::string::npos) << r.error;
  EXPECT_EQ(lib.ops.size(), before);
  EXPECT_EQ(lib.ops.find("clash.identity"), nullptr);
  // The host goes on: the good plugin still loads afterwards.
  EXPECT_TRUE(load_plugin(plugin_file("hello"), lib).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BrokenPlugin,
    ::testing::Values(BadCase{"no_entry", "not a pipette plugin (it has no symbol 'pipette_plugin_descriptor')"},
                      BadCase{"unresolved", "undefined symbol: pipette_test_symbol_nobody_defines"},
                      BadCase{"abi_mismatch", "built for plugin ABI 999, this pipette speaks ABI 1"},
                      BadCase{"fingerprint_mismatch", "built as 'pipette-0.0 abi-1 gcc-4"},
                      BadCase{"throws", "its registration threw: no licence server reachable"},
                      BadCase{"clash", "its op 'tensor.add' clashes with the op of that name from the standard library"},
                      BadCase{"does_not_exist", "no such file"}),
    [](const auto& info) { return std::string(info.param.plugin); });

TEST(PluginLoader, TheSamePluginTwiceClashesWithItself) {
  OpLibrary lib = fresh_library();
  ASSERT_TRUE(load_plugin(plugin_file("hello"), lib).ok());
  PluginLoad again = load_plugin(plugin_file("hello"), lib);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error.find("clashes with the op of that name from plugin 'hello'"), std::string::npos) << again.error;
}

}  // namespace
}  // namespace pipette
