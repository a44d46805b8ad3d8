// Hook points' cost, printed as figures and ratios (bench/hooks/run.sh):
//   1. a hooked forward pass with no plan, and with one capture (features.3),
//      over the plain forward pass of the same scripted CNN at batch 64:
//      the goal is under 5 % overhead;
//   2. model.patch's intervention (zeroing features.3) against the same
//      intervention by a Python forward hook in eager PyTorch (same model,
//      same threads), when python_peer.py's timings are given.
//   hooks_bench DIR THREADS REPEATS [PYTHON_JSON]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <vector>

#include "engine/hook_plan.hpp"
#include "engine/torch_file.hpp"
#include "bench/interleaved_timing.hpp"

using namespace pipette;
using pipette::bench::best_interleaved;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: hooks_bench DIR THREADS REPEATS [PYTHON_JSON]\n");
    return 2;
  }
  std::string dir = argv[1];
  at::set_num_threads(std::atoi(argv[2]));
  int repeats = std::atoi(argv[3]);
  torch::jit::Module m = torch::jit::load(dir + "/cnn.pt");
  m.eval();
  at::Tensor x = read_torch_save_file(dir + "/x.pt").toTensor();
  HookedModel h = hooked(m);
  HookSite site = h.find("features.3").site;
  torch::NoGradGuard no_grad;

  at::Tensor zeroed;
  std::vector<double> t = best_interleaved(
      repeats, {[&] { m.forward({x}); }, [&] { h.module.forward({x}); },
                [&] {
                  InterventionPlan plan({Intervention{site}});
                  ActivePlan active(plan);
                  h.module.forward({x});
                },
                [&] {
                  InterventionPlan plan({Intervention{site, Intervention::Mode::Zero}});
                  ActivePlan active(plan);
                  zeroed = h.module.forward({x}).toTensor();
                }});
  double plain = t[0], idle = t[1], capture = t[2], zero = t[3];
  std::printf("scripted CNN, batch 64, %d threads, best of %d (ms)\n", at::get_num_threads(), repeats);
  std::printf("  plain forward             %8.3f\n", plain * 1e3);
  std::printf("  hooked, no plan           %8.3f  (%+.1f %%)\n", idle * 1e3, (idle / plain - 1) * 100);
  std::printf("  hooked, capture features.3 %7.3f  (%+.1f %%; goal < +5 %%)\n", capture * 1e3,
              (capture / plain - 1) * 100);
  std::printf("  hooked, zero features.3   %8.3f\n", zero * 1e3);
  if (argc > 4) {
    nlohmann::json py = nlohmann::json::parse(std::ifstream(argv[4]));
    at::Tensor want = read_torch_save_file(dir + "/python_zero.pt").toTensor();
    bool same = at::allclose(zeroed, want, 1e-5, 1e-6);
    std::printf("eager PyTorch %s with forward hooks (ms): plain %.3f, capture %.3f, zero %.3f\n",
                py["torch"].get<std::string>().c_str(), py["plain"].get<double>() * 1e3,
                py["capture"].get<double>() * 1e3, py["zero"].get<double>() * 1e3);
    std::printf("  zeroing: pipette / Python hook = %.2f (outputs %s)\n", zero / py["zero"].get<double>(),
                same ? "equal" : "DIFFER");
    std::printf("  capture: pipette / Python hook = %.2f\n", capture / py["capture"].get<double>());
    return same ? 0 : 1;
  }
  return 0;
}
