#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_all(OpRegistry& registry) {
  register_core(registry);
  register_tensor(registry);
  register_data(registry);
  register_model(registry);
  register_attr(registry);
  register_metric(registry);
  register_viz(registry);
}

}  // namespace pipette::stdlib
