#include "engine/model_file.hpp"

#include "engine/hook_points.hpp"
#include "engine/op_impl.hpp"
#include "engine/pt2_module.hpp"
#include "engine/run_report.hpp"

namespace pipette {

torch::jit::Module load_model_file(const std::string& path) {
  if (pt2::is_pt2_archive(path)) return pt2::load_pt2(path);
  try {
    return torch::jit::load(path);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    std::string why = without_torchscript_trace(c10 ? c10->what_without_backtrace() : e.what());
    // A file from a newer PyTorch: its format version or an operator this
    // LibTorch does not know. Say which LibTorch this is and how to get a
    // current one.
    bool newer = why.find("maximum supported version") != std::string::npos ||
                 why.find("Unknown builtin op") != std::string::npos ||
                 why.find("Unknown type name") != std::string::npos;
    throw OpError("cannot load TorchScript model '" + path + "': " + excerpt(why, 300) +
                  (newer ? " (this pipette is built on LibTorch " + libtorch_version() +
                               "; the file needs a newer one: bash scripts/torch2.sh builds pipette on "
                               "PyPI's current LibTorch, or save the model with the older PyTorch)"
                         : std::string(" (save it with torch.jit.script or trace, or torch.export.save; a "
                                       "state_dict is weights without the model)")));
  }
}

bool is_exported_program(const torch::jit::Module& m) {
  if (pt2::is_exported(m)) return true;
  return is_output_wrapper(m) && m.hasattr("model") && pt2::is_exported(m.attr("model").toModule());
}

std::string exported_in_training_mode(const torch::jit::Module& m) {
  return pt2::is_exported(m) ? pt2::exported_training_op(m) : std::string();
}

std::string exported_program_summary(const torch::jit::Module& m) {
  return pt2::is_exported(m) ? pt2::exported_summary(m) : std::string();
}

}  // namespace pipette
