// Elaborator set-up and whole-program checks: plugins, pipeline collection,
// what imported modules may contain, uncalled pipelines, unused --set values.
#include <algorithm>

#include "lang/elaborator.hpp"
#include "engine/suggest.hpp"

namespace pipette::lang {

Elaborator::Elaborator(const OpRegistry& ops, SourceManager& sm, Diagnostics& diags, const CompileOptions& options,
                       const ModuleSet& modules)
    : ops_(ops), sm_(sm), diags_(diags), options_(options), modules_(modules) {
  for (auto& [k, v] : options_.sets) sets_used_[k] = false;
}

Graph Elaborator::run() {
  const Module& main = modules_.main();
  graph_.script = sm_.file(main.file).path();
  load_plugins();
  collect_pipelines();
  for (size_t i = 1; i < modules_.modules.size(); ++i) check_module_statements(*modules_.modules[i]);
  try {
    file_ = main.file;
    check_expansion(nodes_at_least(main.program.stmts));
    Scope top;
    block(main.program.stmts, top, /*in_pipeline=*/false, /*top_level=*/true);
    close_scope(top);
    check_uncalled_pipelines();
  } catch (const TooBig&) {
    diags_.error(Span{main.file, 0, 0}, "the script expands to more than " + std::to_string(options_.max_nodes) +
                                            " operations (loops and pipeline calls multiply)");
  }
  check_unused_sets();
  return std::move(graph_);
}

void Elaborator::load_plugins() {
  for (auto& m : modules_.modules) {
    for (auto& stmt : m->program.stmts) {
      auto* p = std::get_if<ast::PluginStmt>(&stmt.v);
      if (!p) continue;
      Span at{m->file, p->name.begin, p->name.end};
      if (!p->name.is_plain()) {
        diags_.error(at, "a plugin name cannot use {} interpolation");
        continue;
      }
      std::string name = p->name.plain();
      if (plugins_.count(name)) continue;
      if (!options_.resolve_plugin) {
        diags_.error(at, "cannot load plugin '" + name + "': this build has no plugin loader");
        continue;
      }
      OpRegistry fresh;
      if (auto err = options_.resolve_plugin(name, fresh)) {
        diags_.error(at, "cannot load plugin '" + name + "': " + *err);
        continue;
      }
      plugins_.insert(name);
      graph_.plugins.push_back(name);
      for (auto* sig : fresh.ops()) {
        const OpSignature* held = ops_.find(sig->name());
        if (!held) held = plugin_ops_.find(sig->name());
        if (held) {
          diags_.error(at, "plugin '" + name + "' defines op '" + sig->name() + "', which " +
                               (held->plugin().empty() ? std::string("the standard library")
                                                       : "plugin '" + held->plugin() + "'") +
                               " already defines");
          continue;
        }
        OpSignature copy = *sig;
        copy.set_plugin(name);
        plugin_ops_.add(std::move(copy));
      }
    }
  }
}

void Elaborator::collect_pipelines() {
  for (auto& m : modules_.modules) {
    for (auto& stmt : m->program.stmts) {
      auto* def = std::get_if<ast::PipelineDef>(&stmt.v);
      if (!def) continue;
      const std::string& name = def->header.name.name;
      Span at{m->file, def->header.name.begin, def->header.name.end};
      if (auto it = pipelines_.find(name); it != pipelines_.end()) {
        auto& d = diags_.error(at, "redefinition of pipeline '" + name + "'");
        d.notes.push_back({Span{it->second.file, it->second.def->header.name.begin, it->second.def->header.name.end},
                           "previous definition is here"});
        continue;
      }
      if (find_op(name) || ops_.is_namespace(name) || plugin_ops_.is_namespace(name)) {
        diags_.error(at, "pipeline '" + name + "' has the name of an op or op namespace; choose another name");
        continue;
      }
      PipelineInfo info;
      info.def = def;
      info.file = m->file;
      std::set<std::string> seen;
      for (auto& p : def->header.params) {
        if (!seen.insert(p.name.name).second)
          diags_.error(Span{m->file, p.name.begin, p.name.end}, "duplicate pipeline parameter '" + p.name.name + "'");
        if (!p.type) {
          info.param_types.push_back(std::nullopt);
          continue;
        }
        auto t = Type::parse(p.type->text);
        if (!t) {
          auto& d = diags_.error(Span{m->file, p.type->begin, p.type->end}, "unknown type '" + p.type->text + "'");
          if (auto s = closest(p.type->text, type_names())) d.hints.push_back("did you mean '" + *s + "'?");
        }
        info.param_types.push_back(t ? t : std::optional<Type>(Type::any()));
      }
      pipelines_.emplace(name, std::move(info));
    }
  }
}

// An imported file contributes pipelines only: anything that would run or
// report on import is refused, so that importing a file never changes a graph.
void Elaborator::check_module_statements(const Module& m) {
  for (auto& stmt : m.program.stmts) {
    std::visit(
        [&](auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, ast::PipelineDef> || std::is_same_v<T, ast::ImportStmt> ||
                        std::is_same_v<T, ast::PluginStmt> || std::is_same_v<T, ast::BrokenStmt>) {
            return;
          } else {
            auto& d = diags_.error(Span{m.file, s.begin, s.end},
                                   "an imported module may only define pipelines (and use import and plugin)");
            d.hints.push_back("move this statement into the script that imports '" + sm_.file(m.file).path() + "'");
          }
        },
        stmt.v);
  }
}

// Pipelines nobody called are checked with unknown arguments, so that their
// errors show up before the day someone calls them.
void Elaborator::check_uncalled_pipelines() {
  for (auto& [name, info] : pipelines_) {
    if (info.called) continue;
    ++abstract_depth_;
    size_t keep = graph_.nodes.size();
    FileId saved = file_;
    file_ = info.file;
    Scope scope;
    scope.barrier = true;
    for (size_t i = 0; i < info.def->header.params.size(); ++i) {
      auto& p = info.def->header.params[i];
      Binding b;
      b.kind = Binding::Kind::PipelineParam;
      b.value.abstract = true;
      b.value.type = info.param_types[i].value_or(Type::any());
      b.def = span(p.name);
      scope.names[p.name.name] = b;
    }
    call_stack_.push_back({name, Span{}});
    block(info.def->body, scope, /*in_pipeline=*/true, /*top_level=*/false);
    close_scope(scope);
    call_stack_.pop_back();
    file_ = saved;
    graph_.nodes.resize(keep);
    --abstract_depth_;
  }
}

void Elaborator::check_unused_sets() {
  std::vector<std::string> declared;
  for (auto& [k, v] : graph_.params) declared.push_back(k);
  for (auto& [name, used] : sets_used_) {
    if (used) continue;
    auto& d = diags_.error(std::nullopt, "--set " + name + ": the script has no param named '" + name + "'");
    if (auto s = closest(name, declared)) d.hints.push_back("did you mean '" + *s + "'?");
  }
}

// ---- helpers -----------------------------------------------------------------

Diagnostic& Elaborator::error(Span at, std::string message) {
  auto& d = diags_.error(at, std::move(message));
  // Errors inside an inlined pipeline say which call led there (innermost first).
  int shown = 0;
  for (auto it = call_stack_.rbegin(); it != call_stack_.rend() && shown < 3; ++it, ++shown) {
    if (it->at.end == 0 && it->at.begin == 0) break;  // checked abstractly: no call site
    d.notes.push_back({it->at, "in pipeline '" + it->pipeline + "' called here"});
  }
  return d;
}

Diagnostic& Elaborator::warning(Span at, std::string message) { return diags_.warning(at, std::move(message)); }

bool Elaborator::is_reserved_name(const std::string& name) const {
  return ops_.is_namespace(name) || plugin_ops_.is_namespace(name) || find_op(name) != nullptr;
}

Operand Elaborator::coerce(const Operand& o, const Type& to) {
  if (o.kind == Operand::Kind::Int) {
    bool wants_float = to.is(Type::Kind::Float);
    if (to.is(Type::Kind::Union)) {
      auto& ms = to.members();
      bool has_int = std::any_of(ms.begin(), ms.end(), [](const Type& t) { return t.is(Type::Kind::Int); });
      bool has_float = std::any_of(ms.begin(), ms.end(), [](const Type& t) { return t.is(Type::Kind::Float); });
      wants_float = has_float && !has_int;
    }
    if (wants_float) return Operand::real(static_cast<double>(o.i));
  }
  if (o.kind == Operand::Kind::List && to.is(Type::Kind::List)) {
    Operand out = o;
    for (auto& it : out.items) it = coerce(it, to.element());
    return out;
  }
  if (o.kind == Operand::Kind::Record && to.fields()) {
    Operand out = o;
    for (auto& [k, v] : out.fields)
      if (const Type* ft = to.field(k)) v = coerce(v, *ft);
    return out;
  }
  return o;
}

Type Elaborator::type_of_constant(const Operand& o) {
  switch (o.kind) {
    case Operand::Kind::None: return Type::none();
    case Operand::Kind::Bool: return Type::bool_();
    case Operand::Kind::Int: return Type::int_();
    case Operand::Kind::Float: return Type::float_();
    case Operand::Kind::String: return Type::string();
    case Operand::Kind::List: {
      std::vector<Type> ts;
      for (auto& it : o.items) ts.push_back(type_of_constant(it));
      return Type::list(ts.empty() ? Type::any() : Type::union_of(ts));
    }
    case Operand::Kind::Record: {
      std::vector<Type::Field> fs;
      for (auto& [k, v] : o.fields) fs.push_back({k, type_of_constant(v)});
      return Type::record(std::move(fs));
    }
    case Operand::Kind::Ref: return Type::any();
  }
  return Type::any();
}

}  // namespace pipette::lang
