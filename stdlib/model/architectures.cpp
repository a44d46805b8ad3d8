#include "stdlib/model/architectures.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>

#include "engine/op_impl.hpp"

namespace pipette::stdlib {

// PyTorch's default for Linear and Conv2d: weight and bias uniform in
// +-1/sqrt(fan_in) (Kaiming uniform with a = sqrt(5)).
void add_layer(torch::jit::Module& m, const std::string& name, std::vector<int64_t> weight_shape, at::Generator& gen) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < weight_shape.size(); ++i) fan_in *= weight_shape[i];
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  at::Tensor w = at::empty(weight_shape, at::kFloat).uniform_(-bound, bound, gen);
  at::Tensor b = at::empty({weight_shape[0]}, at::kFloat).uniform_(-bound, bound, gen);
  m.register_parameter(name + "_weight", w.requires_grad_(true), false);
  m.register_parameter(name + "_bias", b.requires_grad_(true), false);
}

// Python's m.eval(), m.training and torch.jit.freeze read the `training`
// flag that C++ modules start without.
torch::jit::Module new_module(const std::string& name, const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  torch::jit::Module m = cu ? torch::jit::Module(c10::QualifiedName(name), cu, /*shouldMangle=*/true)
                            : torch::jit::Module(name);
  m.register_attribute("training", c10::BoolType::get(), true);
  return m;
}

void add_hook_point(torch::jit::Module& m, const std::string& name) {
  torch::jit::Module h = new_module("PipetteHookPoint", m._ivalue()->compilation_unit());
  h.define("def forward(self, x):\n    return x\n");
  m.register_module(name, h);
}

namespace {

void add_hook_points(torch::jit::Module& m, const std::vector<std::string>& names) {
  for (const auto& name : names) add_hook_point(m, name);
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace

torch::jit::Module build_architecture(const std::string& arch, const ArchShape& s, at::Generator gen) {
  if (s.classes < 2) throw OpError("a classifier needs at least 2 classes, found " + std::to_string(s.classes));
  if (arch == "mlp") {
    torch::jit::Module m = new_module("PipetteMLP");
    add_layer(m, "fc1", {256, numel(s.input)}, gen);
    add_layer(m, "fc2", {128, 256}, gen);
    add_layer(m, "out", {s.classes, 128}, gen);
    add_hook_points(m, {"hook_fc1_pre", "hook_fc1_post", "hook_fc2_pre", "hook_fc2_post"});
    m.define(R"(
def features(self, x):
    h = self.hook_fc1_pre.forward(torch.linear(torch.flatten(x, 1), self.fc1_weight, self.fc1_bias))
    h = self.hook_fc1_post.forward(torch.relu(h))
    h = self.hook_fc2_pre.forward(torch.linear(h, self.fc2_weight, self.fc2_bias))
    return self.hook_fc2_post.forward(torch.relu(h))

def head(self, h):
    return torch.linear(h, self.out_weight, self.out_bias)

def forward(self, x):
    return self.head(self.features(x))
)");
    return m;
  }
  if (s.input.size() != 3)
    throw OpError(fmt::format("the {} architecture takes images [C, H, W]; examples here have {} dimensions", arch,
                              s.input.size()));
  int64_t c = s.input[0], h = s.input[1], w = s.input[2];
  if (h < 4 || w < 4) throw OpError(fmt::format("images of {}x{} are too small for the {} architecture", h, w, arch));
  if (arch == "cnn") {
    torch::jit::Module m = new_module("PipetteCNN");
    add_layer(m, "conv1", {16, c, 3, 3}, gen);
    add_layer(m, "conv2", {32, 16, 3, 3}, gen);
    add_layer(m, "fc1", {64, 32 * (h / 2 / 2) * (w / 2 / 2)}, gen);
    add_layer(m, "out", {s.classes, 64}, gen);
    add_hook_points(m, {"hook_conv1_pre", "hook_conv1_post", "hook_conv2_pre", "hook_conv2_post", "hook_fc1_pre",
                        "hook_fc1_post"});
    m.define(R"(
def features(self, x):
    h = self.hook_conv1_pre.forward(torch.conv2d(x, self.conv1_weight, self.conv1_bias, [1, 1], [1, 1]))
    h = torch.max_pool2d(self.hook_conv1_post.forward(torch.relu(h)), [2, 2])
    h = self.hook_conv2_pre.forward(torch.conv2d(h, self.conv2_weight, self.conv2_bias, [1, 1], [1, 1]))
    return self.hook_conv2_post.forward(torch.relu(h))

def head(self, h):
    h = torch.flatten(torch.max_pool2d(h, [2, 2]), 1)
    h = self.hook_fc1_pre.forward(torch.linear(h, self.fc1_weight, self.fc1_bias))
    h = self.hook_fc1_post.forward(torch.relu(h))
    return torch.linear(h, self.out_weight, self.out_bias)

def forward(self, x):
    return self.head(self.features(x))
)");
    return m;
  }
  if (arch == "resnet") {
    // A stem and two residual blocks of 32 channels, the second at half
    // resolution; global average pooling and one linear layer.
    torch::jit::Module m = new_module("PipetteResNet");
    add_layer(m, "stem", {32, c, 3, 3}, gen);
    add_layer(m, "b1c1", {32, 32, 3, 3}, gen);
    add_layer(m, "b1c2", {32, 32, 3, 3}, gen);
    add_layer(m, "b2c1", {32, 32, 3, 3}, gen);
    add_layer(m, "b2c2", {32, 32, 3, 3}, gen);
    add_layer(m, "out", {s.classes, 32}, gen);
    add_hook_points(m, {"hook_stem_post", "hook_b1_resid_post", "hook_b2_resid_post"});
    m.define(R"(
def block(self, x, w1, b1, w2, b2):
    h = torch.relu(torch.conv2d(x, w1, b1, [1, 1], [1, 1]))
    return torch.relu(x + torch.conv2d(h, w2, b2, [1, 1], [1, 1]))

def features(self, x):
    h = self.hook_stem_post.forward(torch.relu(torch.conv2d(x, self.stem_weight, self.stem_bias, [1, 1], [1, 1])))
    h = self.hook_b1_resid_post.forward(self.block(h, self.b1c1_weight, self.b1c1_bias, self.b1c2_weight, self.b1c2_bias))
    h = torch.max_pool2d(h, [2, 2])
    return self.hook_b2_resid_post.forward(self.block(h, self.b2c1_weight, self.b2c1_bias, self.b2c2_weight, self.b2c2_bias))

def head(self, h):
    h = torch.flatten(torch.adaptive_avg_pool2d(h, [1, 1]), 1)
    return torch.linear(h, self.out_weight, self.out_bias)

def forward(self, x):
    return self.head(self.features(x))
)");
    return m;
  }
  throw OpError("unknown architecture '" + arch + "' (mlp, cnn or resnet)");
}

}  // namespace pipette::stdlib
