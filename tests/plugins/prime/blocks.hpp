// Hand-made tables for the prime tests: blocks of identical images.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace prime {

// A table built from blocks of identical images: `count` images of `cls`
// carrying the tags in `tags` (a bit string, "101" = tags 0 and 2), of which
// `right` the model got right.
struct Block {
  int64_t cls;
  const char* tags;
  int64_t count, right;
};

struct Table {
  at::Tensor tags, labels, correct;
  int64_t classes = 0;
};

inline Table table(const std::vector<Block>& blocks) {
  std::vector<at::Tensor> t, y, ok;
  Table out;
  for (const auto& b : blocks) {
    std::string bits = b.tags;
    at::Tensor row = at::zeros({static_cast<int64_t>(bits.size())}, at::kBool);
    for (size_t i = 0; i < bits.size(); ++i) row[i] = bits[i] == '1';
    t.push_back(row.unsqueeze(0).expand({b.count, -1}));
    y.push_back(at::full({b.count}, b.cls, at::kLong));
    at::Tensor c = at::zeros({b.count}, at::kBool);
    c.narrow(0, 0, b.right).fill_(true);
    ok.push_back(c);
    out.classes = std::max(out.classes, b.cls + 1);
  }
  out.tags = at::cat(t, 0);
  out.labels = at::cat(y, 0);
  out.correct = at::cat(ok, 0);
  return out;
}

}  // namespace prime
