#include "engine/hook_points.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>

#include <unordered_map>

#include "engine/model_arg.hpp"
#include "engine/op_impl.hpp"
#include "engine/pt2_module.hpp"
#include "engine/suggest.hpp"

namespace pipette {

namespace {

thread_local HookPlan* active_plan = nullptr;

constexpr const char* kInputSuffix = ":input";

// The op every site's value passes through. Its kernel is composite (it calls
// ATen ops, or returns its input), so autograd records whatever the plan does:
// gradients flow through captures and replacements. CONSERVATIVE alias
// analysis marks it as having side effects, so no pass removes, merges or
// reorders sites (two sites with equal inputs are still two visits).
at::Tensor site_kernel(const at::Tensor& x, std::string path, bool input) {
  if (!active_plan) return x;
  return active_plan->visit(HookSite{std::move(path), input}, x);
}

TORCH_LIBRARY(pipette, m) {
  m.def(torch::schema("pipette::site(Tensor x, str path, bool input) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &site_kernel);
}

const c10::Symbol kSite = c10::Symbol::fromQualString("pipette::site");

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// "__torch__.torch.nn.modules.conv.Conv2d" -> "Conv2d"; a mangled
// "___torch_mangle_3.Block" -> "Block".
std::string short_type_name(const torch::jit::Module& m) {
  return m.type()->name() ? m.type()->name()->name() : std::string("Module");
}

bool is_tensor(const torch::jit::Value* v) { return v->type()->isSubtypeOf(*c10::TensorType::get()); }

struct ModuleRef {
  torch::jit::Module module;
  std::string path;
};

// Rewrites one graph in place: each call of a submodule's method (or of a
// method of a module it knows) is replaced by a copy of the callee's graph,
// itself rewritten with the callee's path, with sites around it. A module's
// class may be shared by several instances (two Blocks): each call gets its
// own copy, so each site has one path.
class Expander {
 public:
  explicit Expander(std::vector<HookSiteInfo>& sites) : sites_(sites) {}

  void expand(torch::jit::Graph& g, torch::jit::Block* block, std::unordered_map<torch::jit::Value*, ModuleRef>& modules,
              int depth) {
    if (depth > 64) throw OpError("the model nests modules more than 64 calls deep; hook points stop there");
    std::vector<torch::jit::Node*> nodes(block->nodes().begin(), block->nodes().end());
    for (torch::jit::Node* n : nodes) {
      if (n->kind() == c10::prim::GetAttr) {
        auto owner = modules.find(n->input(0));
        auto cls = n->output()->type()->cast<c10::ClassType>();
        if (owner != modules.end() && cls && cls->is_module()) {
          const std::string name = n->s(c10::attr::name);
          // model.load's output= wrapper holds the user's model as `model`:
          // paths are the user's, without that prefix.
          bool wrapper = owner->second.path.empty() && is_output_wrapper(owner->second.module) && name == "model";
          modules[n->output()] =
              ModuleRef{owner->second.module.attr(name).toModule(), wrapper ? std::string() : join(owner->second.path, name)};
        }
        continue;
      }
      if (n->kind() == c10::prim::CallMethod) {
        auto callee = modules.find(n->input(0));
        if (callee != modules.end()) {
          inline_call(g, n, callee->second, depth);
          continue;
        }
      }
      for (torch::jit::Block* b : n->blocks()) expand(g, b, modules, depth);
    }
  }

 private:
  void inline_call(torch::jit::Graph& g, torch::jit::Node* call, const ModuleRef& ref, int depth) {
    const std::string method = call->s(c10::attr::name);
    auto fn = ref.module.find_method(method);
    if (!fn) return;  // an interface call: left as it is
    // A traced module called twice gets its second trace as forward1 (then
    // forward2, ...): still a call of the module. Private methods
    // (Conv2d._conv_forward, what a module's own forward calls) are not
    // sites of their own; their body is still inlined, so their submodules are.
    const bool module_call = is_forward(method);
    std::string path = module_call ? ref.path : join(ref.path, method);
    std::string type = module_call ? short_type_name(ref.module) : std::string("method");
    // The model's own call (path ""): its input and output are the model's,
    // not a site.
    const bool sited = !path.empty() && (module_call || method[0] != '_');

    std::shared_ptr<torch::jit::Graph> body = torch::jit::toGraphFunction(fn->function()).graph()->copy();
    std::unordered_map<torch::jit::Value*, ModuleRef> inner{{body->inputs()[0], ref}};
    // The site's input comes before whatever the callee's own sites see.
    torch::jit::WithInsertPoint guard(call);
    std::vector<torch::jit::Value*> args(call->inputs().begin(), call->inputs().end());
    for (size_t i = 1; sited && i < args.size(); ++i)
      if (is_tensor(args[i])) {
        args[i] = site(g, args[i], path, true);
        record(HookSiteInfo{HookSite{path, true}, type, true, "Tensor"});
        break;  // the first tensor argument is the module's input
      }
    expand(*body, body->block(), inner, depth + 1);
    std::vector<torch::jit::Value*> outs = torch::jit::insertGraph(g, *body, args);
    for (size_t j = 0; j < outs.size(); ++j) {
      torch::jit::Value* out = outs[j];
      bool tensor = is_tensor(out);
      if (sited && j == 0) record(HookSiteInfo{HookSite{path, false}, type, tensor, out->type()->annotation_str()});
      if (sited && tensor) out = site(g, out, path, false);
      call->outputs()[j]->replaceAllUsesWith(out);
    }
    call->destroy();
  }

  // A site reached again (a module applied twice) is listed once, counted.
  void record(HookSiteInfo info) {
    for (HookSiteInfo& s : sites_)
      if (s.site == info.site) {
        ++s.calls;
        return;
      }
    sites_.push_back(std::move(info));
  }

  static bool is_forward(const std::string& method) {
    if (method.rfind("forward", 0) != 0) return false;
    for (size_t i = 7; i < method.size(); ++i)
      if (method[i] < '0' || method[i] > '9') return false;
    return true;
  }

  static torch::jit::Value* site(torch::jit::Graph& g, torch::jit::Value* v, const std::string& path, bool input) {
    torch::jit::Node* n = g.create(kSite, {v, g.insertConstant(path), g.insertConstant(input)});
    g.insertNode(n);
    n->output()->setType(c10::TensorType::get());
    return n->output();
  }

  std::vector<HookSiteInfo>& sites_;
};

}  // namespace

std::string HookSite::name() const { return input ? path + kInputSuffix : path; }

HookSite HookSite::parse(const std::string& name) {
  const std::string suffix = kInputSuffix;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return HookSite{name.substr(0, name.size() - suffix.size()), true};
  return HookSite{name, false};
}

HookPlan* active_hook_plan() { return active_plan; }

ActivePlan::ActivePlan(HookPlan& plan) : previous_(active_plan) { active_plan = &plan; }
ActivePlan::~ActivePlan() { active_plan = previous_; }

const HookSiteInfo& HookedModel::find(const std::string& name) const {
  HookSite want = HookSite::parse(name);
  for (const HookSiteInfo& s : sites)
    if (s.site == want) {
      if (!s.tensor)
        throw OpError("the hook point '" + name + "' (" + s.module_type + ") holds " + s.value_type +
                      ", not a tensor; pick one of its submodules, or load the model with output= for its outputs");
      return s;
    }
  std::vector<std::string> names;
  for (const HookSiteInfo& s : sites) names.push_back(s.site.name());
  std::string msg = "the model has no hook point '" + name + "'";
  if (auto best = closest(name, names)) msg += "; did you mean '" + *best + "'?";
  else if (sites.empty()) msg += " (it calls no submodules or methods: it has no hook points)";
  else {
    msg += " (it has " + std::to_string(sites.size()) + ", e.g. ";
    for (size_t i = 0; i < std::min<size_t>(names.size(), 6); ++i) msg += (i ? ", " : "") + names[i];
    msg += "; model.hooks lists them)";
  }
  throw OpError(msg);
}

bool is_output_wrapper(const torch::jit::Module& m) {
  // A clone's class is mangled (__torch__.pipette.___torch_mangle_3.OutputOf).
  const auto& name = m.type()->name();
  return name && name->name() == kOutputWrapperClass &&
         name->qualifiedName().rfind(std::string(kOutputWrapperNamespace) + ".", 0) == 0;
}

std::string user_path(const torch::jit::Module& root, const std::string& name) {
  if (!is_output_wrapper(root)) return name;
  if (name == "model") return "";
  return name.rfind("model.", 0) == 0 ? name.substr(6) : name;
}

std::vector<std::pair<std::string, at::Tensor>> parameters_by_path(const torch::jit::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) out.emplace_back(user_path(m, p.name), p.value);
  return out;
}

HookedModel hooked(const torch::jit::Module& m) {
  HookedModel h;
  // A shallow clone: its own classes and method graphs (rewritten below, the
  // user's model untouched), the model's own parameter tensors.
  h.module = clone_model(m, /*share_tensors=*/true);
  auto forward = h.module.find_method("forward");
  if (!forward) throw OpError("the model has no forward method");
  std::shared_ptr<torch::jit::Graph> g = torch::jit::toGraphFunction(forward->function()).graph();
  std::unordered_map<torch::jit::Value*, ModuleRef> modules{{g->inputs()[0], ModuleRef{h.module, ""}}};
  Expander(h.sites).expand(*g, g->block(), modules, 0);
  // Programs from torch.export (engine/pt2_module.hpp) find their own sites
  // from each node's module path; the copy's, not the user's, turn them on.
  for (const auto& named : h.module.named_modules()) {
    if (!pt2::is_exported(named.value)) continue;
    torch::jit::Module sub = named.value;
    std::string prefix = user_path(h.module, named.name);
    pt2::enable_sites(sub, prefix);
    for (HookSiteInfo info : pt2::exported_sites(sub)) {
      info.site.path = join(prefix, info.site.path);
      h.sites.push_back(std::move(info));
    }
  }
  return h;
}

}  // namespace pipette
