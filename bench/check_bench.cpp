// How fast `pipette check` is on a large generated script: parse, type check,
// inline, unroll, CSE and DCE. Prints lines/second; the goal is a 10,000-line
// script in well under one second.
//   check_bench [LINES] [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

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
    s += "let m" + k + " = train.classifier(arch=\"cnn\", data=d" + k + ", epochs=1)\n";
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

}  // namespace

int main(int argc, char** argv) {
  int lines = argc > 1 ? std::atoi(argv[1]) : 10000;
  int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const pipette::OpRegistry& reg = pipette::stdlib::library().ops;
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
  return 0;
}
