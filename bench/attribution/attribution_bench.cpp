// pipette's attribution methods against Captum on the same TorchScript models,
// inputs and thread count, printed as time and peak-memory ratios.
//
//   attribution_bench [--captum DIR] [--threads N] [--repeats R] [--python PATH] [--contended]
//                     [--memory-budget BYTES] [--show-passes] [CASE...]
//
// pipette is measured as `pipette run` runs it: with several threads, LibTorch's
// OpenMP threads sleep when idle (OMP_WAIT_POLICY=PASSIVE, cli/openmp_policy.hpp),
// which the benchmark sets by re-executing itself; the peer runs with Python's
// default. --contended measures both with a second process burning one core.
//
// Without --captum (a checkout holding the `captum` package) it prints
// pipette's numbers only. pipette runs each case as a one-node pipeline
// (--jobs 1) and reads the node's own time and peak resident memory; the peer
// (captum_peer.py) measures the same way in its own process. Times are the
// best of the repeats after a warm-up, in a process whose allocator keeps
// what earlier runs freed, as in a pipeline that has been running. The peak
// comes from one more run after both hand freed memory back to the system
// (malloc_trim), so that it is not hidden below memory kept from earlier runs;
// that run is not timed: on this virtual machine page faults cost microseconds
// each, and faulting a tiny case's memory back in took 3 of its 4 ms.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>
#include <nlohmann/json.hpp>

#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/openmp_policy.hpp"
#include "engine/executor.hpp"
#include "engine/malloc_tuning.hpp"
#include "engine/model_pass_log.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "stdlib/model/architectures.hpp"
#include "stdlib/stdlib.hpp"

using namespace pipette;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string name, what, call;
  bool peer = true;
};

// The cases of the stdlib issue: IG on a Fashion-MNIST-sized CNN (batch 64) and
// on a tiny MLP (batch 256, where Captum is overhead-bound), occlusion 4x4
// stride 2, feature ablation, Shapley sampling and KernelSHAP on 49
// superpixels, noise tunnel; and IG at 1000 steps for memory flat in steps.
// Perturbation methods on a tiny model over the same 28x28 images (one hidden
// layer of 32) are where Captum's per-perturbation overhead shows; on the
// 16-feature MLP both sides are bound by a handful of small forward passes.
std::vector<Case> cases() {
  return {
      {"ig_cnn_50", "IG, 50 steps, CNN, batch 64", "attr.integrated_gradients(cnn, x64, target=t64, steps=50)"},
      {"ig_mlp_50", "IG, 50 steps, tiny MLP, batch 256", "attr.integrated_gradients(mlp, x256, target=t256, steps=50)"},
      {"occlusion", "occlusion 4x4 stride 2, CNN, batch 64",
       "attr.occlusion(cnn, x64, target=t64, window=[4, 4], strides=[2, 2])"},
      {"feature_ablation", "feature ablation, 49 superpixels, batch 64",
       "attr.feature_ablation(cnn, x64, target=t64, feature_mask=grid)"},
      {"shapley_sampling", "Shapley sampling, 49 superpixels, 25 orders, batch 16",
       "attr.shapley_value_sampling(cnn, x16, target=t16, feature_mask=grid, n_samples=25)"},
      {"kernel_shap", "KernelSHAP, 49 superpixels, 256 coalitions, batch 16",
       "attr.kernel_shap(cnn, x16, target=t16, feature_mask=grid, n_samples=256)"},
      {"occlusion_tiny", "occlusion 4x4 stride 2, tiny image MLP, batch 64",
       "attr.occlusion(tiny, x64, target=t64, window=[4, 4], strides=[2, 2])"},
      {"ablation_tiny", "feature ablation, 49 superpixels, tiny image MLP, batch 64",
       "attr.feature_ablation(tiny, x64, target=t64, feature_mask=grid)"},
      {"shapley_tiny", "Shapley sampling, 49 superpixels, tiny image MLP, batch 16",
       "attr.shapley_value_sampling(tiny, x16, target=t16, feature_mask=grid, n_samples=25)"},
      {"ablation_mlp", "feature ablation, tiny MLP (16 features), batch 256",
       "attr.feature_ablation(mlp, x256, target=t256)"},
      {"shapley_mlp", "Shapley sampling, tiny MLP (16 features), batch 256",
       "attr.shapley_value_sampling(mlp, x256, target=t256, n_samples=25)"},
      {"noise_tunnel", "noise tunnel (smoothgrad, 10 samples), CNN, batch 64",
       "attr.noise_tunnel(cnn, x64, target=t64, nt_samples=10, stdevs=0.1)"},
      {"ig_cnn_1000", "IG, 1000 steps, CNN, batch 64 (memory flat in steps)",
       "attr.integrated_gradients(cnn, x64, target=t64, steps=1000)", false},
      // Rules at modules need nn.ReLU and nn.MaxPool2d modules: a CNN made of them.
      {"saliency", "saliency, ReLU CNN, batch 64", "attr.saliency(relu_cnn, x64, target=t64, abs=false)"},
      {"guided_backprop", "guided backprop, ReLU CNN, batch 64", "attr.guided_backprop(relu_cnn, x64, target=t64)"},
      {"deep_lift", "DeepLift, ReLU CNN with max pooling, batch 64", "attr.deep_lift(relu_cnn, x64, target=t64)"},
      {"guided_grad_cam", "guided Grad-CAM at the 2nd convolution, ReLU CNN, batch 64",
       "attr.guided_grad_cam(relu_cnn, x64, target=t64, layer=\"3\")"},
      // Captum's LRP fails on nn.Flatten (with an identity rule its hook changes the size): pipette only.
      {"lrp", "LRP-epsilon, ReLU CNN, batch 64 (Captum's LRP fails on Flatten)",
       "attr.lrp(relu_cnn, x64, target=t64, composite=\"epsilon\")", false},
      {"fgsm", "FGSM, CNN, batch 64", "attack.fgsm(cnn, x64, target=t64, eps=0.03, lower=0, upper=1)"},
      {"pgd", "PGD L-inf, 10 steps, CNN, batch 64",
       "attack.pgd(cnn, x64, target=t64, radius=0.03, step=0.0075, steps=10, lower=0, upper=1)"},
      {"sobol", "Sobol, 8x8 grid, 32 designs, CNN, batch 16 (no Captum peer)",
       "attr.sobol(cnn, x16, target=t16, grid=8, designs=32)", false},
  };
}

void write_inputs(const fs::path& dir) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  stdlib::build_architecture("cnn", {{1, 28, 28}, 10}, gen).save((dir / "cnn.pt").string());
  // A tiny MLP: 16 inputs, 32 hidden, 4 classes.
  torch::jit::Module mlp("TinyMLP");
  mlp.register_parameter("w1", at::randn({32, 16}, gen) * 0.25, false);
  mlp.register_parameter("b1", at::zeros({32}), false);
  mlp.register_parameter("w2", at::randn({4, 32}, gen) * 0.18, false);
  mlp.register_parameter("b2", at::zeros({4}), false);
  mlp.define("def forward(self, x):\n    return torch.linear(torch.relu(torch.linear(x, self.w1, self.b1)), self.w2, self.b2)\n");
  mlp.save((dir / "mlp.pt").string());
  // A tiny model on the CNN's images: 784 -> 32 -> 10.
  torch::jit::Module tiny("TinyImageMLP");
  tiny.register_parameter("w1", at::randn({32, 784}, gen) * 0.036, false);
  tiny.register_parameter("b1", at::zeros({32}), false);
  tiny.register_parameter("w2", at::randn({10, 32}, gen) * 0.18, false);
  tiny.register_parameter("b2", at::zeros({10}), false);
  tiny.define(
      "def forward(self, x):\n    h = torch.relu(torch.linear(torch.flatten(x, 1), self.w1, self.b1))\n"
      "    return torch.linear(h, self.w2, self.b2)\n");
  tiny.save((dir / "tiny.pt").string());
  // torch.nn.Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3, padding=1), ReLU(),
  // MaxPool2d(2), Flatten(), Linear(784, 10)) as TorchScript with the same module types and parameter names,
  // so that Captum's peer rebuilds it in eager PyTorch from its state_dict.
  torch::jit::Module relu_cnn("Sequential");
  auto conv = [&](int64_t in, int64_t out) {
    torch::jit::Module m("Conv2d");
    m.register_parameter("weight", at::randn({out, in, 3, 3}, gen) * (1.0 / std::sqrt(9.0 * in)), false);
    m.register_parameter("bias", at::zeros({out}), false);
    m.define("def forward(self, x):\n    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])\n");
    return m;
  };
  auto simple = [](const char* type, const char* body) {
    torch::jit::Module m(type);
    m.define(std::string("def forward(self, x):\n    return ") + body + "\n");
    return m;
  };
  torch::jit::Module fc("Linear");
  fc.register_parameter("weight", at::randn({10, 784}, gen) * 0.036, false);
  fc.register_parameter("bias", at::zeros({10}), false);
  fc.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  relu_cnn.register_module("0", conv(1, 8));
  relu_cnn.register_module("1", simple("ReLU", "torch.relu(x)"));
  relu_cnn.register_module("2", simple("MaxPool2d", "torch.max_pool2d(x, [2, 2])"));
  relu_cnn.register_module("3", conv(8, 16));
  relu_cnn.register_module("4", simple("ReLU", "torch.relu(x)"));
  relu_cnn.register_module("5", simple("MaxPool2d", "torch.max_pool2d(x, [2, 2])"));
  relu_cnn.register_module("6", simple("Flatten", "torch.flatten(x, 1)"));
  relu_cnn.register_module("7", fc);
  std::string chain = "x";
  for (int i = 0; i < 8; ++i) chain = "getattr(self, \"" + std::to_string(i) + "\").forward(" + chain + ")";
  relu_cnn.define("def forward(self, x):\n    return " + chain + "\n");
  relu_cnn.save((dir / "relu_cnn.pt").string());
  for (int64_t n : {64, 16}) {
    write_value_file(Value(at::rand({n, 1, 28, 28}, gen)), dir / ("x" + std::to_string(n) + ".pt"));
    write_value_file(Value(at::randint(10, {n}, gen, at::kLong)), dir / ("t" + std::to_string(n) + ".pt"));
  }
  write_value_file(Value(at::randn({256, 16}, gen)), dir / "x256.pt");
  write_value_file(Value(at::randint(4, {256}, gen, at::kLong)), dir / "t256.pt");
  at::Tensor r = at::arange(28, at::kLong).div(4, "floor");
  write_value_file(Value((r.view({28, 1}) * 7 + r.view({1, 28})).view({1, 1, 28, 28})), dir / "grid.pt");
}

struct Measure {
  double seconds = -1;
  int64_t peak_bytes = -1;
  // pipette's limit: its own model passes replayed bare.
  double limit_seconds = -1;
  double written_limit_seconds = -1;  // the same, each pass writing its inputs afresh
  size_t passes = 0;
  // The peer's perturbation methods: its forward passes alone, replayed bare.
  double forward_seconds = -1;
};

// The limit of a case: the model passes pipette made for it (ModelPassLog),
// replayed bare — the same modules (frozen copies included), input shapes and
// count, a backward pass to the inputs after each pass that made one — and
// nothing else: no inputs built, no targets picked, no checks, no chunking
// decisions. Inputs are made before the clock starts, one per shape. With
// `write_inputs`, each pass first writes a fresh copy of its inputs, as a
// perturbation method must build them: the floor of such methods.
class Replay {
 public:
  explicit Replay(std::vector<ModelPass> passes) : passes_(std::move(passes)) {
    for (const ModelPass& p : passes_) {
      at::Tensor& in = inputs_[key(p)];
      if (in.defined()) continue;
      at::TensorOptions o = at::TensorOptions().dtype(p.dtype).device(p.device);
      in = at::isFloatingType(p.dtype) ? at::rand(p.input_sizes, o) : at::zeros(p.input_sizes, o);
    }
  }
  bool empty() const { return passes_.empty(); }
  double seconds(bool write_inputs) {
    auto start = std::chrono::steady_clock::now();
    for (const ModelPass& p : passes_) {
      torch::jit::Module m = p.model;
      at::Tensor in = inputs_[key(p)];
      if (write_inputs) in = at::empty_like(in).copy_(in);
      if (p.backward && in.is_floating_point()) {
        at::Tensor x = in.detach().requires_grad_(true);
        at::Tensor out = m.forward({x}).toTensor();
        torch::autograd::grad({out.sum()}, {x});
      } else {
        torch::NoGradGuard no_grad;
        m.forward({in});
      }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  using Key = std::pair<std::vector<int64_t>, int>;
  static Key key(const ModelPass& p) { return {p.input_sizes, static_cast<int>(p.dtype)}; }
  std::vector<ModelPass> passes_;
  std::map<Key, at::Tensor> inputs_;
};

void keep_best(double& best, double s) {
  if (best < 0 || s < best) best = s;
}

// Best time over `repeats` runs after a warm-up; the peak of one more run that
// starts from a trimmed heap.
Measure run_pipette(const OpLibrary& lib, const fs::path& dir, const Case& c, int repeats, uint64_t budget,
                    bool show_passes) {
  std::string text =
      "let cnn = model.load(\"cnn.pt\")\nlet mlp = model.load(\"mlp.pt\")\nlet tiny = model.load(\"tiny.pt\")\nlet grid = tensor.load(\"grid.pt\")\n"
      "let relu_cnn = model.load(\"relu_cnn.pt\")\n"
      "let x64 = tensor.load(\"x64.pt\")\nlet t64 = tensor.load(\"t64.pt\")\nlet x16 = tensor.load(\"x16.pt\")\n"
      "let t16 = tensor.load(\"t16.pt\")\nlet x256 = tensor.load(\"x256.pt\")\nlet t256 = tensor.load(\"t256.pt\")\n"
      "report \"a\" = " + c.call + "\n";
  lang::Compiler compiler(lib.ops, {});
  auto g = compiler.compile_text((dir / "bench.pipe").string(), text);
  if (!g) {
    std::fprintf(stderr, "%s\n", compiler.render_diagnostics().c_str());
    return {};
  }
  RunOptions o;
  o.jobs = 1;  // so that the executor measures each node's peak memory
  o.script_dir = dir;
  o.out_dir = dir / "out";
  o.memory_budget = budget;
  Measure best;
  // The case's node, not its loads; its error ends the case.
  auto node_of = [&](const Execution& e) -> const NodeOutcome* {
    for (size_t n = 0; n < g->nodes.size(); ++n) {
      const std::string& op = g->nodes[n].op;
      if (op.rfind("attr.", 0) != 0 && op.rfind("attack.", 0) != 0) continue;
      if (!e.nodes[n].error.empty()) {
        std::fprintf(stderr, "%s: %s\n", c.name.c_str(), e.nodes[n].error.c_str());
        return nullptr;
      }
      return &e.nodes[n];
    }
    return nullptr;
  };
  // The warm-up logs the passes; then pipette and its limits run in turns, so
  // that drift in the machine's speed hits all three alike.
  std::vector<ModelPass> passes;
  {
    ModelPassLog log;
    if (!node_of(execute(*g, lib.ops, lib.impls, o))) return {};
    passes = log.passes();
  }
  best.passes = passes.size();
  if (show_passes)
    for (const ModelPass& p : passes) {
      std::string shape;
      for (int64_t d : p.input_sizes) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      std::printf("  %s pass [%s]%s\n", c.name.c_str(), shape.c_str(), p.backward ? " + backward" : "");
    }
  Replay replay(std::move(passes));
  if (!replay.empty()) replay.seconds(true);  // its warm-up
  for (int i = 0; i < repeats; ++i) {
    const NodeOutcome* n = node_of(execute(*g, lib.ops, lib.impls, o));
    if (!n) return {};
    keep_best(best.seconds, n->seconds);
    if (replay.empty()) continue;
    keep_best(best.limit_seconds, replay.seconds(false));
    keep_best(best.written_limit_seconds, replay.seconds(true));
  }
  // Free memory kept by the allocator would hide a peak below it: hand it
  // back first, so that the node's high-water mark starts at its live set.
  malloc_trim(0);
  const NodeOutcome* n = node_of(execute(*g, lib.ops, lib.impls, o));
  if (!n) return {};
  best.peak_bytes = n->peak_bytes;
  return best;
}

std::map<std::string, Measure> run_captum(const std::string& python, const fs::path& captum, const fs::path& dir,
                                          int threads, int repeats, const std::vector<Case>& wanted) {
  std::map<std::string, Measure> out;
  fs::path script = fs::path(__FILE__).parent_path() / "captum_peer.py";
  // The peer with Python's own OpenMP policy, not the one this process set for itself.
  const char* set_here = std::getenv("PIPETTE_BENCH_SET_OMP_POLICY");
  std::string cmd = std::string(set_here ? "env -u OMP_WAIT_POLICY " : "") + python + " " + script.string() + " " + captum.string() + " " + dir.string() + " " +
                    std::to_string(threads) + " " + std::to_string(repeats);
  for (auto& c : wanted)
    if (c.peer) cmd += " " + c.name;
  cmd += " 2>" + (dir / "captum.log").string();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char line[4096];
  while (fgets(line, sizeof line, p)) {
    try {
      auto j = nlohmann::json::parse(line);
      Measure& m = out[j.at("case").get<std::string>()];
      m.seconds = j.at("seconds").get<double>();
      m.peak_bytes = j.at("peak_bytes").get<int64_t>();
      m.forward_seconds = j.value("forward_seconds", -1.0);
    } catch (const std::exception&) {
    }
  }
  if (pclose(p) != 0) {
    std::fprintf(stderr, "captum_peer.py failed:\n");
    std::ifstream log(dir / "captum.log");
    std::fprintf(stderr, "%s\n", std::string((std::istreambuf_iterator<char>(log)), {}).c_str());
  }
  return out;
}

std::string mib(int64_t bytes) {
  if (bytes < 0) return "?";
  char s[32];
  std::snprintf(s, sizeof s, "%.1f", static_cast<double>(bytes) / (1 << 20));
  return s;
}

}  // namespace

// A second process that keeps one core busy until it is killed: the machine
// as it is while another job runs.
pid_t start_burner() {
  pid_t pid = fork();
  if (pid == 0) {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  return pid;
}

int main(int argc, char** argv) {
  fs::path captum;
  std::string python = "/usr/bin/python3";
  int threads = 2, repeats = 3;
  bool contended = false, show_passes = false;
  uint64_t budget = 0;  // as `pipette run` without --memory-budget: the default chunk cap
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--captum" && i + 1 < argc) captum = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
    else if (a == "--python" && i + 1 < argc) python = argv[++i];
    else if (a == "--contended") contended = true;
    else if (a == "--show-passes") show_passes = true;
    else if (a == "--memory-budget" && i + 1 < argc) budget = std::stoull(argv[++i]);
    else only.push_back(a);
  }
  // libgomp read its environment when this process started: set the policy
  // `pipette run` sets, and start again (once: the variable is then set).
  if (cli::passive_openmp_wanted(threads)) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    setenv("PIPETTE_BENCH_SET_OMP_POLICY", "1", 1);
    execv("/proc/self/exe", argv);
  }
  pid_t burner = contended ? start_burner() : -1;
  tune_malloc_for_tensors();  // as `pipette run` does
  at::set_num_threads(threads);
  fs::path dir = fs::temp_directory_path() / ("pipette-attribution-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_inputs(dir);

  std::vector<Case> wanted;
  for (auto& c : cases())
    if (only.empty() || std::find(only.begin(), only.end(), c.name) != only.end()) wanted.push_back(c);
  bool with_peer = !captum.empty() && fs::exists(captum / "captum");
  if (!captum.empty() && !with_peer) std::printf("no captum package under %s: pipette's numbers only\n", captum.c_str());
  std::map<std::string, Measure> peer;
  if (with_peer) peer = run_captum(python, captum, dir, threads, repeats, wanted);

  OpLibrary lib;
  stdlib::register_all(lib);
  std::printf("threads %d, best of %d after a warm-up; peak = resident memory above the start of a call on a trimmed heap\n", threads,
              repeats);
  std::printf("OpenMP wait policy: pipette %s, Captum %s%s\n", std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "default",
              std::getenv("PIPETTE_BENCH_SET_OMP_POLICY") ? "default" : (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "default"),
              contended ? "; contended: a second process burns one core throughout" : "");
  std::printf("%-58s %10s %9s %7s %8s %6s %10s %8s %10s %10s %8s %9s\n", "case", "pipette s", "limit s", "/limit",
              "/lim+in", "passes", "Captum s", "speedup", "pipette MiB", "Captum MiB", "mem ratio", "Captum fw");
  for (auto& c : wanted) {
    Measure m = run_pipette(lib, dir, c, repeats, budget, show_passes);
    auto it = peer.find(c.name);
    bool have = it != peer.end() && it->second.seconds > 0;
    char speed[32] = "-", ratio[32] = "-", their_s[32] = "-", forward_share[32] = "-", limit[32] = "-", over[32] = "-",
         over_written[32] = "-";
    if (m.written_limit_seconds > 0)
      std::snprintf(over_written, sizeof over_written, "%.2f", m.seconds / m.written_limit_seconds);
    if (m.limit_seconds > 0) {
      std::snprintf(limit, sizeof limit, "%.4f", m.limit_seconds);
      std::snprintf(over, sizeof over, "%.2f", m.seconds / m.limit_seconds);
    }
    if (have) {
      if (it->second.forward_seconds > 0)
        std::snprintf(forward_share, sizeof forward_share, "%.0f%%", 100 * it->second.forward_seconds / it->second.seconds);
      std::snprintf(their_s, sizeof their_s, "%.4f", it->second.seconds);
      std::snprintf(speed, sizeof speed, "%.1fx", it->second.seconds / m.seconds);
      if (it->second.peak_bytes > 0 && m.peak_bytes > 0)
        std::snprintf(ratio, sizeof ratio, "%.2f", static_cast<double>(m.peak_bytes) / it->second.peak_bytes);
    }
    std::printf("%-58s %10.4f %9s %7s %8s %6zu %10s %8s %10s %10s %8s %9s\n", c.what.c_str(), m.seconds, limit, over,
                over_written, m.passes,
                their_s, speed, mib(m.peak_bytes).c_str(), have ? mib(it->second.peak_bytes).c_str() : "-", ratio,
                forward_share);
    std::fflush(stdout);
  }
  std::printf("limit = pipette's own model passes (passes: how many) replayed bare: same modules, shapes, count and "
              "backward passes, nothing else; /limit = pipette time / limit;\n"
              "  /lim+in = pipette time / the same replay with each pass writing its inputs afresh (the floor of a "
              "method that must build them)\n"
              "speedup = Captum time / pipette time; mem ratio = pipette peak / Captum peak\n"
              "Captum fw = share of Captum's time that its forward passes take when replayed bare (same model, batch "
              "shapes and count);\n  the rest is Captum's overhead: overhead-bound where the share is small\n");
  if (burner > 0) {
    kill(burner, SIGKILL);
    waitpid(burner, nullptr, 0);
  }
  fs::remove_all(dir);
  return 0;
}
