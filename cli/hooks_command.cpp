// `pipette hooks MODEL.pt [--inputs X.pt]`: the hook points of a model file,
// as model.hooks lists them, without writing a script.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "cli/commands.hpp"
#include "engine/model_file.hpp"
#include "engine/model_output.hpp"
#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"
#include "stdlib/model/model_hooks.hpp"

namespace pipette::cli {

int hooks_command(const HooksArgs& args) {
  torch::jit::Module m;
  try {
    m = load_model_file(args.model);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  try {
    if (!args.output.empty()) {
      bool position = std::all_of(args.output.begin(), args.output.end(),
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '-'; });
      m = with_output(m, position ? Value(static_cast<int64_t>(std::stoll(args.output))) : Value(args.output), Value(), args.model);
    }
    m.eval();
    at::Tensor x;
    if (!args.inputs.empty()) {
      Value v = read_pt_file(args.inputs);
      if (!v.isTensor()) {
        std::fprintf(stderr, "error: '%s' holds %s, not a tensor of inputs\n", args.inputs.c_str(),
                     describe(v).c_str());
        return 1;
      }
      x = v.toTensor();
    }
    std::vector<stdlib::HookRow> rows = stdlib::hook_table(m, x);
    if (args.json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& r : rows)
        out.push_back({{"hook", r.hook}, {"kind", r.kind}, {"module", r.module}, {"value", r.value}, {"calls", r.calls},
                       {"shape", r.shape}});
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    size_t wh = 4, wk = 6, wm = 6, wv = 5;
    for (const auto& r : rows) {
      wh = std::max(wh, r.hook.size());
      wk = std::max(wk, r.kind.size());
      wm = std::max(wm, r.module.size());
      wv = std::max(wv, r.value.size());
    }
    std::string header =
        fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  calls", "hook", wh, "kind", wk, "module", wm, "value", wv);
    if (x.defined()) header += "  shape";
    std::printf("%s\n", header.c_str());
    for (const auto& r : rows) {
      std::string line = fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>5}", r.hook, wh, r.kind, wk, r.module, wm,
                                     r.value, wv, r.calls);
      if (x.defined()) line += "  " + r.shape;
      std::printf("%s\n", line.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s: %s\n", args.model.c_str(), e.what());
    return 1;
  }
}

}  // namespace pipette::cli
