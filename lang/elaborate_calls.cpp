// Calls: resolving the callee, binding arguments to parameters, checking them
// against the signature, creating graph nodes, and inlining pipelines.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "engine/run_layout.hpp"
#include "lang/elaborator.hpp"
#include "engine/suggest.hpp"

namespace pipette::lang {

namespace {
constexpr size_t kMaxPipelineDepth = 64;

std::string number_text(double d) { return fmt::format("{}", d); }
}  // namespace

const OpSignature* Elaborator::find_op(const std::string& name) const {
  if (auto* s = ops_.find(name)) return s;
  return plugin_ops_.find(name);
}

std::vector<std::string> Elaborator::callable_names() const {
  std::vector<std::string> out;
  for (auto* s : ops_.ops()) out.push_back(s->name());
  for (auto* s : plugin_ops_.ops()) out.push_back(s->name());
  for (auto& [k, v] : pipelines_) out.push_back(k);
  return out;
}

Value Elaborator::call(const ast::NameOrCall& c, std::optional<Value> piped, Span piped_span, Scope& scope) {
  std::string callee = c.name.joined();
  if (c.name.parts.size() == 1) {
    if (auto it = pipelines_.find(callee); it != pipelines_.end())
      return pipeline_call(callee, it->second, c, std::move(piped), piped_span, scope);
  }
  if (const OpSignature* sig = find_op(callee)) {
    if (!sig->plugin().empty() && !plugins_.count(sig->plugin())) {
      auto& d = error(span(c.name), "op '" + callee + "' comes from plugin '" + sig->plugin() +
                                        "', which this script does not load");
      d.hints.push_back("add `plugin \"" + sig->plugin() + "\"` at the top of the file");
      return Value::poison();
    }
    return op_call(*sig, c, std::move(piped), piped_span, scope);
  }
  // Unknown callee: still check the arguments, then say what is wrong with the name.
  if (c.args)
    for (auto& a : *c.args) expr(a.value, scope);
  const std::string& head = c.name.parts.front().name;
  if (Binding* b = lookup(head, scope)) {
    b->used = true;
    error(span(c.name), "'" + head + "' is a variable, not an op or pipeline; only ops and pipelines can be called");
    return Value::poison();
  }
  auto& d = error(span(c.name), std::string("unknown ") + (c.name.parts.size() > 1 ? "op" : "op or pipeline") +
                                    " '" + callee + "'");
  if (auto s = closest(callee, callable_names())) {
    d.hints.push_back("did you mean '" + *s + "'?");
  } else if (c.name.parts.size() > 1 && !is_reserved_name(head)) {
    d.hints.push_back("no op namespace is called '" + head + "'; is a `plugin` declaration missing?");
  }
  return Value::poison();
}

namespace {

// Device names a call's `device=` accepts.
bool valid_device(const std::string& d) {
  if (d == "cpu" || d == "cuda" || d == "auto") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5) return false;
  return std::all_of(d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace

Elaborator::Placement Elaborator::placement(const ast::NameOrCall& c,
                                            const std::function<bool(const std::string&)>& is_param, Scope& scope) {
  Placement out;
  out.call = &c;
  if (!c.args) return out;
  std::vector<size_t> taken;
  for (size_t i = 0; i < c.args->size(); ++i) {
    const ast::Argument& a = (*c.args)[i];
    if (!a.name || (a.name->name != "device" && a.name->name != "resources" && a.name->name != "shards") ||
        is_param(a.name->name))
      continue;
    taken.push_back(i);
    Value v = expr(a.value, scope);
    if (v.poisoned) {
      out.ok = false;
      continue;
    }
    if (a.name->name == "shards") {
      if (v.op.kind != Operand::Kind::Int || v.op.i < 1 || v.op.i > 10000) {
        auto& diag = error(span(a.value), "shards must be a constant whole number from 1 to 10000");
        diag.hints.push_back("the graph is built when the script is compiled; use a literal or a param");
        out.ok = false;
      }
      out.shards = v.op.i;
      out.shards_at = span(a.value);
      continue;
    }
    if (a.name->name == "device") {
      if (v.op.kind != Operand::Kind::String || !valid_device(v.op.s)) {
        auto& diag = error(span(a.value), "device must be a constant \"cpu\", \"cuda\", \"cuda:N\" or \"auto\"");
        diag.hints.push_back("the device is chosen when the script is compiled; use a literal or a param");
        out.ok = false;
      }
      out.device = v.op.s;
      continue;
    }
    if (v.op.kind != Operand::Kind::Record || !v.op.is_constant()) {
      auto& diag = error(span(a.value), "resources must be a constant record such as {gpus: 1, mem: \"16G\", time: \"2h\"}");
      diag.hints.push_back("it is what the node's job asks a cluster for, chosen when the script is compiled");
      out.ok = false;
      continue;
    }
    for (auto& [key, value] : v.op.fields) {
      std::string text = value.kind == Operand::Kind::String ? value.s
                         : value.kind == Operand::Kind::Int  ? std::to_string(value.i)
                                                             : value.to_source();
      if (auto why = set_resource(out.resources, key, text)) {
        auto& diag = error(span(a.value), "in resources: " + *why);
        const auto& keys = resource_keys();
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
          if (auto s = closest(key, keys)) diag.hints.push_back("did you mean '" + *s + "'?");
        out.ok = false;
      }
    }
  }
  if (taken.empty()) return out;
  out.stripped = c;
  for (size_t k = taken.size(); k-- > 0;) out.stripped.args->erase(out.stripped.args->begin() + taken[k]);
  out.call = &out.stripped;
  return out;
}

Value Elaborator::op_call(const OpSignature& sig, const ast::NameOrCall& c, std::optional<Value> piped,
                          Span piped_span, Scope& scope) {
  std::vector<ParamView> params;
  for (auto& p : sig.params()) {
    ParamView v;
    v.name = p.name;
    v.type = p.type;
    v.required = p.required;
    if (!p.required) v.default_op = p.default_value;
    v.spec = &p;
    params.push_back(std::move(v));
  }
  // `device="cuda"` and `resources={...}` are accepted by every op call
  // (unless the op has a parameter of that name): placement, not arguments.
  Placement where = placement(c, [&](const std::string& n) { return sig.find_param(n) != nullptr; }, scope);
  if (!where.ok) return Value::poison();
  const ast::NameOrCall* call = where.call;
  std::vector<Span> arg_spans;
  auto values = bind_arguments(sig.name(), params, *call, std::move(piped), piped_span, scope, arg_spans, file_);
  if (!values) return Value::poison();
  std::vector<std::pair<std::string, Operand>> args;
  for (size_t i = 0; i < params.size(); ++i) args.emplace_back(params[i].name, (*values)[i].op);
  Span at = span(c);
  if (piped_span.end > piped_span.begin) at.begin = std::min(at.begin, piped_span.begin);
  Value v;
  v.type = sig.output();
  // A save target must be unique: two saves to one file would race, and one
  // would silently replace the other. "a/./b" is "a/b"; a file cannot also be
  // the directory of another.
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].spec->output_path || !(*values)[i].constant() || abstract_depth_ > 0) continue;
    std::string path = normalized_output_path((*values)[i].op.s).value_or((*values)[i].op.s);
    // The same path, a directory of it ("a" for "a/b"), or a path inside it
    // ("a/b/c"): looked up in the sorted paths, not pair by pair.
    auto clash = save_paths_.find(path);
    for (size_t slash = path.find('/'); clash == save_paths_.end() && slash != std::string::npos;
         slash = path.find('/', slash + 1))
      clash = save_paths_.find(path.substr(0, slash));
    if (clash == save_paths_.end()) {
      auto below = save_paths_.lower_bound(path + "/");
      if (below != save_paths_.end() && below->first.compare(0, path.size() + 1, path + "/") == 0) clash = below;
    }
    if (clash != save_paths_.end()) {
      const std::string& other = clash->first;
      bool same = other == path;
      auto& d = error(arg_spans[i], same ? "\"" + path + "\" is written twice"
                                         : "\"" + path + "\" and \"" + other + "\" cannot both be written: one would "
                                           "be a file and a directory at once");
      d.notes.push_back({clash->second, "first written here"});
      return Value::poison();
    }
    save_paths_.emplace(path, arg_spans[i]);
  }
  if (where.shards) {
    if (!sig.is_shardable()) {
      auto& d = error(where.shards_at, "'" + sig.name() + "' cannot be sharded: its output is not one row per example "
                                       "that depends on that example alone");
      d.hints.push_back("shards= splits attribution methods, per-input metrics and model.predict by example range");
      return Value::poison();
    }
    if (*where.shards > 1) {
      std::optional<Operand> op = sharded_call(sig, args, where, span(c));
      if (!op) return Value::poison();
      v.op = *op;
      return v;
    }
  }
  uint32_t id = add_node(sig, std::move(args), span(c));
  Node& node = graph_.nodes[id];
  if (!where.device.empty()) node.device = where.device;
  node.resources = where.resources.over(node.resources);
  v.op = Operand::ref(id);
  return v;
}

std::optional<Operand> Elaborator::sharded_call(const OpSignature& sig, const std::vector<std::pair<std::string, Operand>>& args,
                                 const Placement& where, Span at) {
  if (!sig.shard_map_op().empty()) return sharded_via(sig, args, where, at);
  const OpSignature* shard = find_op("tensor.shard");
  const OpSignature* cat = find_op("tensor.cat");
  const auto& split = sig.shard_params();
  Operand like;
  for (auto& [k, v] : args)
    if (k == split.front()) like = v;
  // A metric's shards score their inputs; the mean, if asked, is taken after.
  const std::string& reduce = sig.shard_reduce_param();
  bool mean = false;
  for (auto& [k, v] : args)
    if (!reduce.empty() && k == reduce) mean = v.kind == Operand::Kind::String && v.s == "mean";
  std::vector<Operand> parts;
  for (int64_t i = 0; i < *where.shards; ++i) {
    auto part = args;
    for (auto& [k, v] : part) {
      if (!reduce.empty() && k == reduce) {
        v = Operand::string("none");
        continue;
      }
      bool per_example = std::find(split.begin(), split.end(), k) != split.end();
      if (!per_example || v.kind != Operand::Kind::Ref) continue;  // constants are the same for every example
      uint32_t s = add_node(*shard, {{"value", v}, {"like", like}, {"index", Operand::integer(i)},
                                     {"count", Operand::integer(*where.shards)}}, at);
      v = Operand::ref(s);
    }
    uint32_t id = add_node(sig, std::move(part), at);
    Node& node = graph_.nodes[id];
    if (!where.device.empty()) node.device = where.device;
    node.resources = where.resources.over(node.resources);
    parts.push_back(Operand::ref(id));
  }
  uint32_t joined = add_node(*cat, {{"tensors", Operand::list(std::move(parts))}, {"dim", Operand::integer(0)}}, at);
  if (!mean) return Operand::ref(joined);
  const OpSignature* of_shards = find_op("metric.mean_of_shards");
  return Operand::ref(add_node(*of_shards, {{"scores", Operand::ref(joined)}, {"metric", Operand::string(sig.name())}}, at));
}

std::optional<Operand> Elaborator::sharded_via(const OpSignature& sig, const std::vector<std::pair<std::string, Operand>>& args,
                                const Placement& where, Span at) {
  const OpSignature* map = find_op(sig.shard_map_op());
  const OpSignature* finish = find_op(sig.shard_finish_op());
  // A plugin's declaration error, not the script's: say whose it is.
  auto missing = [&](const std::string& op) {
    error(where.shards_at, "'" + sig.name() + "' says it is sharded through '" + op + "', which is not loaded" +
                               (sig.plugin().empty() ? "" : " (a defect of plugin '" + sig.plugin() + "')"));
    return std::nullopt;
  };
  if (!map || !map->is_shardable() || !map->shard_map_op().empty()) return missing(sig.shard_map_op());
  if (!finish || finish->params().empty()) return missing(sig.shard_finish_op());
  auto by_name = [&](const OpSignature& of) {
    std::vector<std::pair<std::string, Operand>> out;
    for (auto& p : of.params())
      for (auto& [k, v] : args)
        if (k == p.name) out.emplace_back(k, v);
    return out;
  };
  std::optional<Operand> joined = sharded_call(*map, by_name(*map), where, at);
  if (!joined) return std::nullopt;
  auto rest = by_name(*finish);
  rest.insert(rest.begin(), {finish->params().front().name, *joined});
  return Operand::ref(add_node(*finish, std::move(rest), at));
}

uint32_t Elaborator::add_node(const OpSignature& sig, std::vector<std::pair<std::string, Operand>> args, Span at) {
  if (graph_.nodes.size() >= options_.max_nodes) throw TooBig{};
  Node n;
  n.id = static_cast<uint32_t>(graph_.nodes.size());
  n.op = sig.name();
  n.op_version = sig.version();
  n.args = std::move(args);
  n.type = sig.output();
  n.loc = sm_.resolve(at);
  n.side_effect = sig.has_side_effects();
  for (auto it = call_stack_.rbegin(); it != call_stack_.rend(); ++it) n.inlined_from.push_back(sm_.resolve(it->at));
  // The op's defaults, then each enclosing pipeline call's, outermost first.
  n.resources = sig.default_resources();
  for (auto& site : call_stack_) {
    n.resources = site.resources.over(n.resources);
    if (!site.device.empty()) n.device = site.device;
  }
  graph_.nodes.push_back(std::move(n));
  return graph_.nodes.back().id;
}

std::optional<std::vector<Value>> Elaborator::bind_arguments(const std::string& callee,
                                                             const std::vector<ParamView>& params,
                                                             const ast::NameOrCall& c, std::optional<Value> piped,
                                                             Span piped_span, Scope& scope,
                                                             std::vector<Span>& arg_spans, FileId default_file) {
  std::vector<std::optional<Value>> slots(params.size());
  arg_spans.assign(params.size(), span(c));
  bool failed = false;
  size_t positional = 0;
  bool seen_named = false;
  auto signature_note = [&](Diagnostic& d) {
    if (const OpSignature* sig = find_op(callee)) d.notes.push_back({std::nullopt, "signature: " + sig->to_string()});
  };
  if (piped) {
    if (params.empty()) {
      auto& d = error(span(c.name), "'" + callee + "' takes no arguments, so nothing can be piped into it");
      signature_note(d);
      return std::nullopt;
    }
    if (piped->no_value) {
      error(piped_span, "this pipeline returns no value; there is nothing to pipe");
      failed = true;
    }
    slots[0] = std::move(*piped);
    arg_spans[0] = piped_span;
    positional = 1;
  }
  static const std::vector<ast::Argument> no_args;
  const auto& args = c.args ? *c.args : no_args;
  for (auto& a : args) {
    Value v = expr(a.value, scope);
    if (v.no_value) {
      error(span(a.value), "this pipeline returns no value; it cannot be an argument");
      v = Value::poison();
    }
    size_t idx;
    if (a.name) {
      seen_named = true;
      auto it = std::find_if(params.begin(), params.end(), [&](const ParamView& p) { return p.name == a.name->name; });
      if (it == params.end()) {
        auto& d = error(span(*a.name), "'" + callee + "' has no parameter '" + a.name->name + "'");
        std::vector<std::string> names;
        for (auto& p : params) names.push_back(p.name);
        if (auto s = closest(a.name->name, names)) d.hints.push_back("did you mean '" + *s + "'?");
        else signature_note(d);
        failed = true;
        continue;
      }
      idx = static_cast<size_t>(it - params.begin());
      if (slots[idx]) {
        auto& d = error(span(*a.name), "argument '" + a.name->name + "' is given twice");
        d.notes.push_back({arg_spans[idx], "first given here"});
        failed = true;
        continue;
      }
    } else {
      if (seen_named) {
        error(span(a), "a positional argument cannot follow a named one");
        failed = true;
        continue;
      }
      idx = positional++;
      if (idx >= params.size()) {
        auto& d = error(span(a), "too many arguments: '" + callee + "' takes " + std::to_string(params.size()) +
                                     (params.size() == 1 ? " argument" : " arguments"));
        signature_note(d);
        failed = true;
        continue;
      }
    }
    arg_spans[idx] = span(a.value);
    slots[idx] = std::move(v);
  }
  std::vector<Value> out;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamView& p = params[i];
    if (!slots[i]) {
      if (p.required) {
        auto& d = error(span(c.name), "missing argument '" + p.name + "' of '" + callee + "'");
        signature_note(d);
        failed = true;
        continue;
      }
      Value v;
      if (p.default_op) {
        v.op = *p.default_op;
        v.type = type_of_constant(v.op);
      } else if (p.default_expr) {
        FileId saved = file_;
        file_ = default_file;
        Scope empty;
        empty.barrier = true;
        v = expr(*p.default_expr, empty);
        file_ = saved;
      }
      slots[i] = std::move(v);
    } else if (!check_argument(callee, p, *slots[i], arg_spans[i])) {
      failed = true;
    }
    if (slots[i]->poisoned) failed = true;
    slots[i]->op = coerce(slots[i]->op, p.type);
    out.push_back(std::move(*slots[i]));
  }
  if (failed) return std::nullopt;
  return out;
}

bool Elaborator::check_argument(const std::string& callee, const ParamView& p, Value& v, Span at) {
  if (v.poisoned) return false;
  if (!p.type.accepts(v.type)) {
    error(at, "argument '" + p.name + "' of '" + callee + "' must be " + p.type.to_string() + ", found " +
                  v.type.to_string());
    return false;
  }
  if (!p.spec || v.abstract) return true;
  const ParamSpec& s = *p.spec;
  if (s.compile_time && !v.op.is_constant()) {
    auto& d = error(at, "argument '" + p.name + "' of '" + callee + "' must be known when the script is compiled");
    d.hints.push_back("use a literal, a param or a loop variable");
    return false;
  }
  if (!s.choices.empty() && v.op.kind == Operand::Kind::String &&
      std::find(s.choices.begin(), s.choices.end(), v.op.s) == s.choices.end()) {
    auto& d = error(at, "'" + v.op.s + "' is not a valid " + p.name + " for '" + callee + "'");
    if (auto c = closest(v.op.s, s.choices)) d.hints.push_back("did you mean '" + *c + "'?");
    std::string all;
    for (auto& ch : s.choices) all += (all.empty() ? "" : ", ") + ch;
    d.notes.push_back({std::nullopt, "expected one of: " + all});
    return false;
  }
  if (v.op.kind == Operand::Kind::Int || v.op.kind == Operand::Kind::Float) {
    double x = v.op.kind == Operand::Kind::Int ? static_cast<double>(v.op.i) : v.op.f;
    if ((s.min && x < *s.min) || (s.max && x > *s.max)) {
      std::string range = s.min && s.max ? "between " + number_text(*s.min) + " and " + number_text(*s.max)
                          : s.min        ? "at least " + number_text(*s.min)
                                         : "at most " + number_text(*s.max);
      error(at, "argument '" + p.name + "' of '" + callee + "' must be " + range + ", found " + v.op.to_source());
      return false;
    }
  }
  if (s.output_path && v.op.kind == Operand::Kind::String) {
    std::filesystem::path path(v.op.s);
    bool climbs = false;
    for (auto& part : path)
      if (part == "..") climbs = true;
    if (v.op.s.empty() || path.is_absolute() || climbs || !normalized_output_path(v.op.s)) {
      auto& d = error(at, "output path \"" + v.op.s + "\" must stay inside the run's output directory");
      d.hints.push_back("use a relative path without '..'; pipette run --out DIR chooses where it goes");
      return false;
    }
    if (auto why = reserved_output_path(*normalized_output_path(v.op.s))) {
      auto& d = error(at, "output path \"" + v.op.s + "\" is pipette's own: " + *why);
      d.hints.push_back("choose another name; reported values are written to report.json and reports/ already");
      return false;
    }
  }
  return true;
}

Value Elaborator::pipeline_call(const std::string& name, PipelineInfo& p, const ast::NameOrCall& c,
                                std::optional<Value> piped, Span piped_span, Scope& scope) {
  if (abstract_depth_ == 0) {
    p.called = true;
    check_expansion(nodes_at_least_in_pipeline(name));
  }
  for (auto& frame : call_stack_) {
    if (frame.pipeline != name) continue;
    std::string chain;
    bool on = false;
    for (auto& f : call_stack_) {
      if (f.pipeline == name) on = true;
      if (on) chain += f.pipeline + " -> ";
    }
    auto& d = error(span(c.name), "pipeline '" + name + "' calls itself (" + chain + name + ")");
    d.hints.push_back("pipelines are inlined, so they cannot recurse; unroll with a for loop");
    return Value::poison();
  }
  if (call_stack_.size() >= kMaxPipelineDepth) {
    error(span(c.name), "pipelines nested more than " + std::to_string(kMaxPipelineDepth) + " calls deep");
    return Value::poison();
  }
  std::vector<ParamView> params;
  for (size_t i = 0; i < p.def->header.params.size(); ++i) {
    auto& pp = p.def->header.params[i];
    ParamView v;
    v.name = pp.name.name;
    v.type = p.param_types[i].value_or(Type::any());
    v.required = !pp.default_value.has_value();
    if (pp.default_value) v.default_expr = &*pp.default_value;
    params.push_back(std::move(v));
  }
  Placement where = placement(
      c, [&](const std::string& n) { return std::any_of(params.begin(), params.end(), [&](auto& v) { return v.name == n; }); },
      scope);
  if (!where.ok) return Value::poison();
  if (where.shards) {
    auto& d = error(where.shards_at, "shards= splits one op call; '" + name + "' is a pipeline");
    d.hints.push_back("write shards= on the attribution call inside the pipeline");
    return Value::poison();
  }
  std::vector<Span> arg_spans;
  auto values = bind_arguments(name, params, *where.call, std::move(piped), piped_span, scope, arg_spans, p.file);
  if (!values) return Value::poison();

  Span call_at = span(c);
  call_stack_.push_back({name, call_at, where.device, where.resources});
  FileId saved = file_;
  file_ = p.file;
  Scope body;
  body.barrier = true;
  for (size_t i = 0; i < params.size(); ++i) {
    Binding b;
    b.kind = Binding::Kind::PipelineParam;
    b.value = std::move((*values)[i]);
    b.def = span(p.def->header.params[i].name);
    body.names.emplace(params[i].name, std::move(b));
  }
  auto result = block(p.def->body, body, /*in_pipeline=*/true, /*top_level=*/false);
  close_scope(body);
  file_ = saved;
  call_stack_.pop_back();
  if (!result) {
    Value v;
    v.no_value = true;
    v.type = Type::none();
    return v;
  }
  return *result;
}

}  // namespace pipette::lang
