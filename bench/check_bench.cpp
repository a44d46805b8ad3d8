// How fast `pipette check` is on a large generated script: parse, type check,
// inline, unroll, CSE and DCE. Prints lines/second; the goal is a 10,000-line
// script in well under one second. Given the pipette executable, it also times
// whole processes, start-up included (issue 28's goals: `pipette check` of the
// 10,000-line script under 0.15 s, `pipette --version` under 0.05 s).
//   check_bench [LINES] [REPEATS] [PIPETTE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "lang/compiler.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

namespace {

// A script shaped like real ones: data, models, attributions, metrics, pipelines,
// loops and reports, repeated with distinct names.
std::string generate(int lines) {
  std::string s =
      "param steps: int = 32\n"
      "pipeline score(m, x: tensor, y, a: tensor, n: int = 20) {\n"
      "  return metric.deletion(m, x, a, target=y, steps=n)\n"
      "}\n";
  int written = 4;
  for (int i = 0; written < lines; ++i) {
    std::string k = std::to_string(i);
    s += "let d" + k + " = data.fashion_mnist(split=\"test\", limit=" + std::to_string(1 + i % 500) + ")\n";
    s += "let m" + k + " = train.classifier(arch=\"cnn\", data=d" + k + ", epochs=1).model\n";
    s += "# explain model " + k + "\n";
    s += "let a" + k + " = attr.integrated_gradients(m" + k + ", d" + k + ".images, target=d" + k +
         ".labels, steps=steps)\n";
    s += "for n in [10, 20] {\n";
    s += "  report \"r" + k + "_{n}\" = score(m" + k + ", d" + k + ".images, d" + k + ".labels, a" + k + ", n)\n";
    s += "}\n";
    s += "d" + k + ".images |> viz.heatmap(a" + k + ") |> save(\"h" + k + ".png\")\n";
    written += 8;
  }
  return s;
}

// Best wall time of `argv` as a process (output discarded), of `repeats` runs.
double best_process_seconds(const std::vector<std::string>& argv, int repeats) {
  double best = 1e9;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    std::fflush(stdout);  // or the child would print what is buffered again
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
      execv(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "check_bench: %s exited with status %d\n", argv[0].c_str(), WEXITSTATUS(status));
      return -1;
    }
    best = std::min(best, s);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int lines = argc > 1 ? std::atoi(argv[1]) : 10000;
  int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const pipette::OpRegistry& reg = pipette::stdlib::builtin_signatures();
  std::string text = generate(lines);
  double best = 1e9;
  size_t nodes = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    pipette::lang::Compiler c(reg, {});
    auto g = c.compile_text("bench.pipe", text);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!g) {
      std::fputs(c.render_diagnostics().c_str(), stderr);
      return 1;
    }
    nodes = g->nodes.size();
    best = std::min(best, s);
  }
  std::printf("check of a %d-line script (%zu nodes): best of %d = %.1f ms, %.0f lines/s, %.2f of the 1 s goal\n",
              lines, nodes, repeats, best * 1e3, lines / best, best / 1.0);
  if (argc > 3) {
    std::string file = "/tmp/check_bench_" + std::to_string(getpid()) + ".pipe";
    std::ofstream(file) << text;
    double check = best_process_seconds({argv[3], "check", file}, repeats);
    double version = best_process_seconds({argv[3], "--version"}, repeats);
    std::remove(file.c_str());
    if (check < 0 || version < 0) return 1;
    std::printf("process `pipette check` of it: best of %d = %.1f ms, %.2f of the 0.15 s goal\n", repeats, check * 1e3,
                check / 0.15);
    std::printf("process `pipette --version`:   best of %d = %.1f ms, %.2f of the 0.05 s goal\n", repeats,
                version * 1e3, version / 0.05);
  }
  return 0;
}
