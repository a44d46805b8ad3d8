#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_all(OpLibrary& lib) {
  register_core(lib);
  register_tensor(lib);
  register_tensor_shape(lib);
  register_data(lib);
  register_data_files(lib);
  register_data_text(lib);
  register_model(lib);
  register_train(lib);
  register_diffusion(lib);
  register_diffusion_text(lib);
  register_lm(lib);
  register_attr(lib);
  register_metric(lib);
  register_attack(lib);
  register_viz(lib);
  register_viz_figures(lib);
  register_viz_attribution(lib);
}

const OpLibrary& library() {
  static const OpLibrary lib = [] {
    OpLibrary l;
    register_all(l);
    return l;
  }();
  return lib;
}

}  // namespace pipette::stdlib
