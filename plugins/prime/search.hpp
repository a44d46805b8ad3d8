// PRIME's search (Rezaei et al., ICLR 2024): within each class, the smallest
// sets of tags on whose images the model's accuracy drops sharply. Independent
// of the engine: tensors in, modes out, so tests and the benchmark call it
// directly.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace prime {

struct SearchOptions {
  int64_t min_support = 30;  // a group needs at least this many images
  double min_drop = 0.30;    // accuracy at least this far below the class's
  double margin = 0.10;      // removing any one tag raises accuracy by at least this
  int max_tags = 3;          // largest tag set searched
  bool per_class = true;     // search within each class (else over all images)
};

// A group of images: the images of one class (or all, class -1) carrying every
// tag of a set, and how many of them the model got right.
struct Group {
  int64_t support = 0;
  int64_t correct = 0;
  double accuracy() const { return support ? static_cast<double>(correct) / support : 0.0; }
};

struct Mode {
  int64_t cls = -1;            // -1 when the search was not per class
  std::vector<int64_t> tags;   // tag indices, ascending
  Group group;                 // images with all of `tags`
  Group of_class;              // every image of the class
  double drop() const { return of_class.accuracy() - group.accuracy(); }
};

// What the search did, for logs and the benchmark.
struct SearchStats {
  int64_t groups_scored = 0;     // tag sets whose support and accuracy were counted
  int64_t pruned_support = 0;    // ... below min_support: no superset explored
  int64_t pruned_errors = 0;     // ... too few errors for any superset to be a mode
  int64_t classes_skipped = 0;   // classes with no images or no errors
};

// `tags` bool [N, T], `labels` int64 [N] in [0, classes), `correct` bool [N].
// Returns the failure modes sorted by class, then drop (largest first), then
// support (largest first), then tag indices: ties come out in a fixed order.
std::vector<Mode> search(const at::Tensor& tags, const at::Tensor& labels, const at::Tensor& correct,
                         int64_t classes, const SearchOptions& options, SearchStats* stats = nullptr);

// The support and accuracy of one tag set within a class (-1: all images).
Group measure(const at::Tensor& tags, const at::Tensor& labels, const at::Tensor& correct, int64_t cls,
              const std::vector<int64_t>& tag_set);

// Which images belong to a tag set within a class (-1: all images): bool [N].
at::Tensor members(const at::Tensor& tags, const at::Tensor& labels, int64_t cls, const std::vector<int64_t>& tag_set);

}  // namespace prime
