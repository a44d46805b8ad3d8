// The plan model.activations, model.patch and the layer methods give a forward
// pass: at each named site, capture the value, or change it (replace, add,
// scale, zero), on all of it or on some indices of one
// dimension (channels, positions, heads). Several sites at once; gradients
// flow through captures and changes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/hook_points.hpp"

namespace pipette {

struct Intervention {
  // Leaf: the value, detached, as a new leaf of autograd that requires
  // gradients: layer methods read the gradient there (and none flows past).
  enum class Mode { Capture, Leaf, Replace, Add, Scale, Zero };
  explicit Intervention(HookSite at, Mode m = Mode::Capture) : site(std::move(at)), mode(m) {}
  HookSite site;
  Mode mode = Mode::Capture;
  // Replace, Add: a tensor shaped like the site's value [N, ...] or like one
  // example's [...] (broadcast over the batch).
  at::Tensor value;
  double factor = 1.0;  // Scale
  // Where the change applies: indices along `dim` (1 = channels for images,
  // or positions for sequences; counted without the batch as dimension 0 is
  // the batch), or everywhere when `index` is empty.
  int64_t dim = 1;
  std::vector<int64_t> index;
};

// "replace", "add", "scale", "zero" (and "capture").
PIPETTE_API Intervention::Mode intervention_mode(const std::string& name);

class PIPETTE_API InterventionPlan : public HookPlan {
 public:
  explicit InterventionPlan(std::vector<Intervention> interventions);
  at::Tensor visit(const HookSite& site, const at::Tensor& value) override;

  // The value the site had (after any change the plan made there) on the
  // pass's last visit; an OpError when the pass never reached it.
  const at::Tensor& captured(const HookSite& site) const;
  // An OpError naming the first site of the plan the pass did not reach (a
  // branch not taken, a module forward never calls).
  void check_reached() const;

 private:
  at::Tensor apply(const Intervention& iv, const at::Tensor& x) const;
  std::vector<Intervention> interventions_;
  std::map<std::string, at::Tensor> captured_;
};

}  // namespace pipette
