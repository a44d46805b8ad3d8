// Engine overhead and scaling, printed as figures and ratios:
//   1. scheduling overhead per node: 10,000 trivial nodes, independent and chained;
//   2. a wide graph of CPU-bound nodes with --jobs 1 vs --jobs 2;
//   3. the same with LibTorch matmuls, where intra-op threads compete with jobs;
//   4. cache hit cost: a chain re-run entirely from the cache, for small values
//      and for 1 MiB tensors, against computing it.
//   engine_bench [NODES]
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/cache.hpp"
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

  // 4. Cache hits: the chain again, first computed and stored, then all from the cache.
  std::filesystem::path cache_dir = std::filesystem::temp_directory_path() / "pipette-bench-cache";
  std::filesystem::remove_all(cache_dir);
  Cache cache(cache_dir);
  int cached_nodes = std::min(nodes, 2000);
  Graph small = make_graph("bench.noop", cached_nodes, true, 0);
  double compute_only = seconds_of([&] { run(small, 2); });
  o.cache = &cache;
  double store = seconds_of([&] { run(small, 2); });
  double hit = seconds_of([&] { run(small, 2); });
  std::printf("cache, %d chained int nodes: compute %.1f us/node, compute+store %.1f us/node, all hits %.1f us/node "
              "(hit / compute %.1fx)\n",
              cached_nodes, compute_only * 1e6 / cached_nodes, store * 1e6 / cached_nodes, hit * 1e6 / cached_nodes,
              hit / compute_only);
  lib.define(OpSignature("bench.tensor", "").input("x", "any", "").input("work", "int", "").returns("tensor"),
             [](const OpArgs& a, OpContext&) {
               // 1 MiB of floats, with some arithmetic so that computing is not free.
               at::Tensor t = at::full({a.int_("work")}, a["x"].isInt() ? double(a["x"].toInt()) : 1.0);
               return Value((t.sin() * t.cos()).exp());
             });
  Graph tensors = make_graph("bench.tensor", 200, false, 262144);
  o.cache = nullptr;
  double t_compute = seconds_of([&] { run(tensors, 2); });
  o.cache = &cache;
  run(tensors, 2);
  double t_hit = seconds_of([&] { run(tensors, 2); });
  std::printf("cache, 200 nodes of 1 MiB tensors: compute %.2f ms/node, hit %.2f ms/node (%.0f MiB/s read), "
              "hit / compute %.2fx\n",
              t_compute * 1e3 / 200, t_hit * 1e3 / 200, 200.0 / t_hit, t_hit / t_compute);
  std::filesystem::remove_all(cache_dir);
  return 0;
}
