// How tags travel through a script: a record {names: list<string>, values:
// bool [N, T]} (plus `cuts` [P, 2] when prime.image_tags made them, so that
// another split can be cut at the same thresholds). Saved as .pt it is a dict
// Python reads with torch.load.
#pragma once

#include "engine/plugin_api.hpp"

#include <string>
#include <vector>

namespace prime {

struct TagSet {
  std::vector<std::string> names;
  at::Tensor values;  // bool [N, T], on the CPU
  at::Tensor cuts;    // optional: image_tags' thresholds
};

// Checks names (unique, non-empty, no " & ") against values (2-D, 0/1, no NaN).
TagSet make_tag_set(std::vector<std::string> names, const at::Tensor& values, const std::string& what);
TagSet tag_set_of(const pipette::Value& v, const std::string& what);
TagSet tag_set_arg(const pipette::OpArgs& a, const std::string& name);
pipette::Value to_value(const TagSet& t);

// Labels and predictions of one split, checked against each other and the tags.
struct Outcomes {
  at::Tensor labels;    // int64 [N]
  at::Tensor correct;   // bool [N]
  at::Tensor predicted; // int64 [N]
  int64_t classes = 0;
};
// `predictions` are class indices [N] or scores [N, K] (logits, probabilities:
// the arg max is the prediction). `rows` is the number of tagged images.
Outcomes outcomes_arg(const pipette::OpArgs& a, int64_t rows);
// Optional `classes`: one name per class; else "class 3".
std::vector<std::string> class_names(const pipette::OpArgs& a, int64_t classes);

// Tag names joined as the modes table writes them, and back.
std::string join_tags(const std::vector<std::string>& names);
std::vector<std::string> split_tags(const std::string& joined);
// "dark and large", "dark, large and textured" (underscores read as spaces).
std::string spoken(const std::vector<std::string>& tags);

// Index of each name in `t`; an error naming the missing one.
std::vector<int64_t> tag_indices(const TagSet& t, const std::vector<std::string>& names);

std::vector<std::string> strings_arg(const pipette::OpArgs& a, const std::string& name);

// Table columns as lists, so that report.json shows the numbers themselves
// (tensors would go to side files) and CSV writes them alike.
pipette::Value int_column(const std::vector<int64_t>& v);
pipette::Value float_column(const std::vector<double>& v);
pipette::Value string_column(const std::vector<std::string>& v);
// A column read back: a list, a 1-D tensor or a single number.
std::vector<int64_t> ints_of(const pipette::Value& v, const std::string& what);
std::vector<double> floats_of(const pipette::Value& v, const std::string& what);
std::vector<std::string> strings_of(const pipette::Value& v, const std::string& what);

}  // namespace prime
