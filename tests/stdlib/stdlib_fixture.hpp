// The fixture stdlib tests share: a library, a scratch directory, and a way to
// run a script and read its reports.
#pragma once

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/script.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <unistd.h>

#include "engine/cache.hpp"
#include "engine/executor.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {

namespace fs = std::filesystem;

// Modules as PyTorch's would be scripted, for rules that act on module types:
// a Linear (weight [out, in], bias [out]) and an element-wise activation of
// class `type` computing fn(x) ("ReLU", "torch.relu").
inline torch::jit::Module linear_module(const at::Tensor& w, const at::Tensor& b) {
  torch::jit::Module m("Linear");
  m.register_parameter("weight", w, false);
  m.register_parameter("bias", b, false);
  m.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  return m;
}
inline torch::jit::Module elementwise_module(const std::string& type, const std::string& fn) {
  torch::jit::Module m(type);
  m.define("def forward(self, x):\n    return " + fn + "(x)\n");
  return m;
}

// A run's log lines (info and warnings), as the CLI would print them. The
// executor calls RunOptions::log from worker threads, hence the lock.
struct Logged {
  std::mutex mu;
  std::string text;
  RunOptions options() {
    RunOptions o;
    o.log = [this](const Node& n, int level, const std::string& msg) {
      std::lock_guard<std::mutex> lock(mu);
      text += (level >= OpContext::Warn ? "warning: " : "info: ") + n.op + ": " + msg + "\n";
    };
    return o;
  }
};

class Stdlib : public ::testing::Test {
 protected:
  void SetUp() override {
    stdlib::register_all(lib_);
    dir_ = fs::temp_directory_path() / ("pipette-stdlib-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Execution run(const std::string& text, RunOptions o = {}) {
    lang::Compiler c(lib_.ops, {});
    auto g = c.compile_text((dir_ / "s.pipe").string(), text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    graph_ = g ? *g : Graph{};
    o.out_dir = dir_ / "out";
    o.script_dir = dir_;
    auto e = execute(graph_, lib_.ops, lib_.impls, o);
    for (auto& n : e.nodes) EXPECT_TRUE(n.error.empty()) << n.error;
    return e;
  }
  // Runs a script expected to fail; returns what every failing node said and
  // why reports could not be read.
  std::string run_errors(const std::string& text, Execution* out = nullptr) {
    lang::Compiler c(lib_.ops, {});
    auto g = c.compile_text((dir_ / "s.pipe").string(), text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    if (!g) return {};
    RunOptions o;
    o.script_dir = dir_;
    o.out_dir = dir_ / "out";
    Execution e = execute(*g, lib_.ops, lib_.impls, o);
    EXPECT_FALSE(e.ok());
    std::string errors;
    for (auto& n : e.nodes) errors += n.error;
    for (auto& [name, why] : e.report_errors) errors += why;
    if (out) *out = std::move(e);
    return errors;
  }
  static at::Tensor report(const Execution& e, const std::string& name) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v.isTensor() ? v.toTensor() : at::scalar_tensor(v.toDouble(), at::kDouble);
    ADD_FAILURE() << "no report " << name;
    return at::Tensor();
  }
  void save(const at::Tensor& t, const std::string& name) { write_value_file(Value(t), dir_ / name); }

  // logits = flatten(x) @ W^T + b, saved as TorchScript.
  void save_linear(const at::Tensor& w, const at::Tensor& b) {
    torch::jit::Module m("Linear");
    m.register_parameter("w", w, false);
    m.register_parameter("b", b, false);
    m.define("def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t() + self.b\n");
    m.save((dir_ / "linear.pt").string());
  }

  // A TorchScript module with the given parameters and methods, saved as `file`.
  void save_module(const std::string& file, const std::vector<std::pair<std::string, at::Tensor>>& params,
                   const std::string& source) {
    torch::jit::Module m("Model");
    for (const auto& [name, value] : params) m.register_parameter(name, value, false);
    m.define(source);
    m.save((dir_ / file).string());
  }

  OpLibrary lib_;
  fs::path dir_;
  Graph graph_;
};

}  // namespace pipette
