// Scripts that use a first-party plugin, loaded from this build tree as
// `pipette run` would load it: the compiler sees the standard library and takes
// the plugin's signatures when the script says `plugin "NAME"`. A suite derives
// from PluginScripts<Traits>, where Traits names the plugin and its file.
#pragma once

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <unistd.h>

#include "engine/executor.hpp"
#include "engine/plugin_loader.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {

namespace fs = std::filesystem;

template <class Traits>
class PluginScripts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lib_ = new OpLibrary;
    stdlib::register_all(*lib_);
    PluginLoad r = load_plugin(Traits::file, *lib_);
    ASSERT_TRUE(r.ok()) << r.error;
    plugin_ops_ = r.plugin->ops;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / (std::string("pipette-") + Traits::name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Every ```pipe block of a Markdown file compiles (against the standard
  // library and the plugin) and every ```pipe-error block does not; returns
  // how many blocks there were.
  static int check_doc_blocks(const fs::path& md) {
    std::ifstream in(md);
    EXPECT_TRUE(in) << md;
    std::string line, code;
    int n = 0, start = 0, blocks = 0;
    bool inside = false, expect_error = false;
    while (std::getline(in, line)) {
      ++n;
      if (!inside && (line == "```pipe" || line == "```pipe-error")) {
        inside = true, expect_error = line == "```pipe-error", start = n, code.clear();
      } else if (inside && line == "```") {
        inside = false;
        ++blocks;
        std::string diagnostics;
        bool ok = compile(md.filename().string(), code, &diagnostics).has_value();
        EXPECT_EQ(ok, !expect_error) << md << ":" << start << "\n" << diagnostics;
      } else if (inside) {
        code += line + "\n";
      }
    }
    return blocks;
  }

  // The file compiles without errors.
  static void check_compiles(const fs::path& file) {
    std::ifstream in(file);
    std::string diagnostics;
    EXPECT_TRUE(compile(file.filename().string(), std::string(std::istreambuf_iterator<char>(in), {}), &diagnostics))
        << diagnostics;
  }

  // Compiles a script against the standard library and, once it says
  // `plugin "NAME"`, the plugin's signatures.
  static std::optional<Graph> compile(const std::string& file, const std::string& text, std::string* diagnostics) {
    lang::CompileOptions o;
    o.resolve_plugin = [](const std::string& name, OpRegistry& into) -> std::optional<std::string> {
      if (name != Traits::name) return "no such plugin";
      for (auto& op : plugin_ops_) into.add(*lib_->ops.find(op));
      return std::nullopt;
    };
    OpLibrary host;
    stdlib::register_all(host);
    lang::Compiler c(host.ops, o);
    auto g = c.compile_text(file, text);
    *diagnostics = c.render_diagnostics();
    return g;
  }

  // Compiles and runs a script; `logs` collects what the ops logged.
  Execution execute_script(const std::string& text, std::string* logs = nullptr) {
    std::string diagnostics;
    auto g = compile((dir_ / "s.pipe").string(), std::string("plugin \"") + Traits::name + "\"\n" + text, &diagnostics);
    EXPECT_TRUE(g) << diagnostics;
    if (!g) return {};
    graph_ = *g;
    RunOptions ro;
    ro.out_dir = dir_ / "out";
    ro.script_dir = dir_;
    std::mutex mu;
    if (logs)
      ro.log = [&](const Node&, int, const std::string& m) {
        std::lock_guard<std::mutex> lock(mu);
        *logs += m + "\n";
      };
    return execute(graph_, lib_->ops, lib_->impls, ro);
  }
  Execution run(const std::string& text, std::string* logs = nullptr) {
    Execution e = execute_script(text, logs);
    for (auto& n : e.nodes) EXPECT_TRUE(n.error.empty()) << n.error;
    return e;
  }
  std::string run_errors(const std::string& text) {
    Execution e = execute_script(text);
    EXPECT_FALSE(e.ok());
    std::string errors;
    for (auto& n : e.nodes) errors += n.error;
    return errors;
  }
  static Value report(const Execution& e, const std::string& name) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v;
    ADD_FAILURE() << "no report " << name;
    return Value();
  }
  static Value field(const Value& record, const std::string& name) { return record.toGenericDict().at(name); }
  static std::vector<std::string> strings(const Value& list) {
    std::vector<std::string> out;
    for (const auto& s : list.toListRef()) out.push_back(s.toStringRef());
    return out;
  }
  static std::vector<int64_t> ints(const Value& list) {
    std::vector<int64_t> out;
    for (const auto& x : list.toListRef()) out.push_back(x.toInt());
    return out;
  }
  static std::vector<double> floats(const Value& list) {
    std::vector<double> out;
    for (const auto& x : list.toListRef()) out.push_back(x.toDouble());
    return out;
  }
  void save(const at::Tensor& t, const std::string& name) { write_value_file(Value(t), dir_ / name); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string read(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static inline OpLibrary* lib_ = nullptr;
  static inline std::vector<std::string> plugin_ops_;
  fs::path dir_;
  Graph graph_;
};

}  // namespace pipette
