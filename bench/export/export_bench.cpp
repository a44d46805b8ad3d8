// Forward + backward of models from torch.export through pipette's
// interpreter (engine/pt2_program.hpp), against the same models scripted
// (TorchScript, run by LibTorch's graph executor) in pipette and eager in
// Python (bench/export/run.sh, export_peer.py): times and ratios, and the
// interpreter's overhead per node from a chain of 64 tiny layers, where the
// ops themselves cost next to nothing.
//   export_bench DIR THREADS REPEATS PYTHON_JSON
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>

#include "engine/hook_points.hpp"
#include "engine/model_file.hpp"
#include "engine/torch_file.hpp"
#include "bench/interleaved_timing.hpp"

using namespace pipette;
using pipette::bench::best_interleaved;

namespace {


std::function<void()> step(torch::jit::Module& m, const at::Tensor& x) {
  return [&m, x] {
    at::Tensor xi = x.clone();
    std::vector<at::Tensor> wrt;
    if (x.is_floating_point()) wrt.push_back(xi.requires_grad_(true));
    else
      for (const at::Tensor& p : m.parameters()) wrt.push_back(p);
    torch::autograd::grad({m.forward({xi}).toTensor().sum()}, wrt);
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: export_bench DIR THREADS REPEATS PYTHON_JSON\n");
    return 2;
  }
  std::string dir = argv[1];
  at::set_num_threads(std::atoi(argv[2]));
  int repeats = std::atoi(argv[3]);
  nlohmann::json py = nlohmann::json::parse(std::ifstream(argv[4]));
  std::printf("forward + backward, %d threads, best of %d (ms); eager is PyTorch %s in Python\n",
              at::get_num_threads(), repeats, py["torch"].get<std::string>().c_str());
  std::printf("  %-26s %9s %11s %9s %14s %12s\n", "model", ".pt2", "TorchScript", "eager", ".pt2/Script", ".pt2/eager");
  for (const char* name : {"cnn", "gpt", "chain"}) {
    torch::jit::Module exported = load_model_file(dir + "/" + name + ".pt2");
    torch::jit::Module scripted = load_model_file(dir + "/" + name + ".pt");
    scripted.eval();
    at::Tensor x = read_torch_save_file(dir + "/" + name + "_x.pt").toTensor();
    auto t = best_interleaved(repeats, {step(exported, x), step(scripted, x)});
    double eager = py[name].get<double>();
    std::string label = std::string(name) + " (" + std::to_string(py[std::string(name) + "_nodes"].get<int>()) + " nodes)";
    std::printf("  %-26s %9.3f %11.3f %9.3f %14.2f %12.2f\n", label.c_str(), t[0] * 1e3, t[1] * 1e3, eager * 1e3,
                t[0] / t[1], t[0] / eager);
    if (std::string(name) == "chain") {
      int nodes = py["chain_nodes"].get<int>();
      std::printf("  chain: %.2f us per node, forward + backward, ops included; the interpreter's overhead per node "
                  "over TorchScript %+.2f us, over eager Python %+.2f us\n",
                  t[0] / nodes * 1e6, (t[0] - t[1]) / nodes * 1e6, (t[0] - eager) / nodes * 1e6);
      // Hook points cost: the same pass through a hooked() copy, no plan.
      HookedModel h = hooked(exported);
      auto th = best_interleaved(repeats, {step(exported, x), step(h.module, x)});
      std::printf("  hooked .pt2 (%zu sites, no plan) over plain .pt2: %+.1f %%\n", h.sites.size(),
                  (th[1] / th[0] - 1) * 100);
    }
  }
  return 0;
}
