#include "stdlib/attr/attribution.hpp"

namespace pipette::stdlib {

void register_attr(OpLibrary& lib) {
  register_attr_gradient(lib);
  register_attr_perturbation(lib);
  register_attr_layer(lib);
  register_attr_deeplift(lib);
  register_attr_lrp(lib);
  register_attr_neuron(lib);
  register_attr_sobol(lib);
  register_attr_llm(lib);
  register_attr_tcav(lib);
}

}  // namespace pipette::stdlib
