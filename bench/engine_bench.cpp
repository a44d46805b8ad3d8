// Engine overhead and scaling, printed as figures and ratios:
//   1. scheduling overhead per node: 10,000 trivial nodes, independent and chained;
//   2. a wide graph of CPU-bound nodes with --jobs 1 vs --jobs 2;
//   3. the same with LibTorch matmuls, where intra-op threads compete with jobs.
// (Cache hit cost joins when the cache lands.)
//   engine_bench [NODES]
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/executor.hpp"
#include "engine/op_library.hpp"

using namespace pipette;

namespace {

double seconds_of(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Graph make_graph(const std::string& op, int n, bool chained, int64_t work) {
  Graph g;
  for (int i = 0; i < n; ++i) {
    Node node;
    node.id = static_cast<uint32_t>(i);
    node.op = op;
    node.args = {{"x", chained && i > 0 ? Operand::ref(i - 1) : Operand::integer(i)}, {"work", Operand::integer(work)}};
    g.nodes.push_back(node);
  }
  g.reports.push_back(Report{"last", Operand::ref(n - 1), Type::any(), {}});
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = argc > 1 ? std::atoi(argv[1]) : 10000;
  OpLibrary lib;
  lib.define(OpSignature("bench.noop", "").input("x", "any", "").input("work", "int", "").returns("int"),
             [](const OpArgs& a, OpContext&) { return Value(a["x"].isInt() ? a["x"].toInt() + 1 : 0); });
  lib.define(OpSignature("bench.spin", "").input("x", "any", "").input("work", "int", "").returns("float"),
             [](const OpArgs& a, OpContext&) {
               double s = 0;  // plain CPU work that LibTorch cannot parallelise
               for (int64_t i = 0; i < a.int_("work"); ++i) s += std::sqrt(static_cast<double>(i));
               return Value(s);
             });
  lib.define(OpSignature("bench.matmul", "").input("x", "any", "").input("work", "int", "").returns("float"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor m = at::ones({a.int_("work"), a.int_("work")});
               return Value((m.matmul(m)).sum().item<double>());
             });
  RunOptions o;
  o.out_dir = std::filesystem::temp_directory_path() / "pipette-bench";

  auto run = [&](const Graph& g, int jobs) {
    o.jobs = jobs;
    Execution e = execute(g, lib.ops, lib.impls, o);
    if (!e.ok()) std::fprintf(stderr, "bench run failed\n");
  };

  Graph wide = make_graph("bench.noop", nodes, false, 0);
  Graph chain = make_graph("bench.noop", nodes, true, 0);
  run(wide, 2);  // warm up
  double t_wide = seconds_of([&] { run(wide, 2); });
  double t_chain = seconds_of([&] { run(chain, 2); });
  std::printf("overhead: %d independent trivial nodes %.1f ms (%.1f us/node); chained %.1f ms (%.1f us/node)\n", nodes,
              t_wide * 1e3, t_wide * 1e6 / nodes, t_chain * 1e3, t_chain * 1e6 / nodes);

  Graph spin = make_graph("bench.spin", 16, false, 20'000'000);
  double s1 = seconds_of([&] { run(spin, 1); });
  double s2 = seconds_of([&] { run(spin, 2); });
  std::printf("wide CPU-bound graph (16 nodes): --jobs 1 %.2f s, --jobs 2 %.2f s, speed-up %.2fx (2 cores: ideal 2x)\n",
              s1, s2, s1 / s2);

  Graph mm = make_graph("bench.matmul", 16, false, 768);
  double m1 = seconds_of([&] { run(mm, 1); });
  double m2 = seconds_of([&] { run(mm, 2); });
  std::printf("wide LibTorch matmul graph (16 x 768^3): --jobs 1 %.2f s (2 intra-op threads), --jobs 2 %.2f s "
              "(1 each), ratio %.2fx\n",
              m1, m2, m1 / m2);
  return 0;
}
