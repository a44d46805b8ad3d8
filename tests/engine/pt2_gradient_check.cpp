// Programs from torch.export in pipette against eager PyTorch on the same
// models (tests/python/make_exported_models.py wrote both): forward outputs,
// input gradients and parameter gradients of sum(out * cotangent), all to
// 1e-5 of the largest value (bf16 autocast: 2e-2); and the same outputs after
// a clone, a move through the run cache's TorchScript serialization and a
// round trip through a written .pt2.
//   pt2_gradient_check CASES_DIR [CASE...]
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/hook_points.hpp"
#include "engine/model_file.hpp"
#include "engine/value_io.hpp"

namespace fs = std::filesystem;
using namespace pipette;

namespace {

at::Tensor load(const fs::path& p) { return read_pt_file(p).toTensor(); }

double rel(const at::Tensor& got, const at::Tensor& want) {
  if (got.sizes() != want.sizes()) return INFINITY;
  double scale = std::max(want.abs().max().item<double>(), 1e-12);
  return (got.to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>() / scale;
}

std::map<std::string, at::Tensor> outputs(const c10::IValue& v) {
  std::map<std::string, at::Tensor> out;
  if (v.isTensor()) out[""] = v.toTensor();
  else
    for (const auto& kv : v.toGenericDict()) out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pt2_gradient_check CASES_DIR [CASE...]\n");
    return 2;
  }
  fs::path dir = argv[1];
  nlohmann::json cases = nlohmann::json::parse(std::ifstream(dir / "cases.json"));
  std::set<std::string> only(argv + 2, argv + argc);
  int failed = 0;
  for (auto& [name, c] : cases.items()) {
    if (!only.empty() && !only.count(name)) continue;
    fs::path cd = dir / name;
    double tol = name == "hops" ? 2e-2 : 1e-5, worst = 0;
    std::string bad;
    auto check = [&](const std::string& what, const at::Tensor& got, const at::Tensor& want) {
      double e = rel(got, want);
      worst = std::max(worst, e);
      if (!(e < tol) && bad.empty()) bad = what + ": " + std::to_string(e) + " of the largest value";
    };
    try {
      torch::jit::Module m = load_model_file((dir / c["file"].get<std::string>()).string());
      std::vector<c10::IValue> in;
      std::vector<at::Tensor> wrt;
      for (int k = 0; k < c["inputs"].get<int>(); ++k) {
        at::Tensor x = load(cd / ("in" + std::to_string(k) + ".pt"));
        if (x.is_floating_point()) {
          x.requires_grad_(true);
          wrt.push_back(x);
        }
        in.emplace_back(x);
      }
      size_t n_inputs = wrt.size();
      auto params = parameters_by_path(m);
      for (auto& [_, p] : params) wrt.push_back(p);
      auto outs = outputs(m.forward(in));
      // A model exported in training mode updates its buffers in place.
      for (const auto& b : c.value("buffers", nlohmann::json::array())) {
        std::string n = b.get<std::string>();
        at::Tensor have;
        for (const auto& nb : m.named_buffers()) if (nb.name == n) have = nb.value;
        if (!have.defined()) throw std::runtime_error("the model has no buffer " + n);
        check("buffer " + n + " after one pass", have.to(at::kDouble), load(cd / "buf" / (n + ".pt")).to(at::kDouble));
      }
      at::Tensor loss = at::zeros({}, at::kDouble);
      for (auto& [key, o] : outs) {
        std::string suffix = key.empty() ? "" : "_" + key;
        check("output " + key, o, load(cd / ("out" + suffix + ".pt")));
        loss = loss + (o * load(cd / ("cot" + suffix + ".pt"))).sum().to(at::kDouble);
      }
      auto grads = torch::autograd::grad({loss}, wrt, {}, false, false, /*allow_unused=*/true);
      for (size_t k = 0; k < n_inputs; ++k) check("input gradient " + std::to_string(k), grads[k], load(cd / ("gin" + std::to_string(k) + ".pt")));
      for (size_t k = 0; k < params.size(); ++k) {
        at::Tensor g = grads[n_inputs + k].defined() ? grads[n_inputs + k] : at::zeros_like(params[k].second);
        check("gradient of " + params[k].first, g, load(cd / "grad" / (params[k].first + ".pt")));
      }
      // The same model after a clone, a TorchScript round trip (the run
      // cache's) and a .pt2 written and read back.
      at::NoGradGuard no_grad;
      auto first = outputs(m.forward(in));
      torch::jit::Module cloned = m.clone();
      std::stringstream ss;
      m.save(ss);
      torch::jit::Module reloaded = torch::jit::load(ss);
      fs::path written = fs::temp_directory_path() / ("pt2_check_" + name + ".pt2");
      { std::ofstream(written, std::ios::binary) << encode_value_file(Value(m._ivalue()), "m.pt2"); }
      torch::jit::Module rewritten = load_model_file(written.string());
      fs::remove(written);
      for (auto* other : {&cloned, &reloaded, &rewritten}) {
        auto again = outputs(other->forward(in));
        for (auto& [key, o] : first)
          if (!at::equal(again.at(key), o) && bad.empty()) bad = "a copy of the model computes other outputs";
      }
    } catch (const std::exception& e) {
      bad = e.what();
    }
    if (bad.empty()) {
      std::printf("ok: %s: outputs and gradients equal eager PyTorch's (largest difference %.1e)\n", name.c_str(), worst);
    } else {
      std::printf("FAIL: %s: %s\n", name.c_str(), bad.c_str());
      ++failed;
    }
  }
  return failed ? 1 : 0;
}
