// Walks the AST of the main module and its imports and produces the graph IR:
// names are resolved in scopes, calls are checked against op signatures,
// pipelines are inlined at each call, `for` loops are unrolled and constants
// (literals, params, loop variables) are folded into node arguments.
//
// Bodies that never run concretely (pipelines nobody calls, loops over an empty
// list) are still checked "abstractly": their parameters stand for unknown
// values and whatever nodes they create are thrown away afterwards.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/graph.hpp"
#include "engine/op_registry.hpp"
#include "lang/ast.hpp"
#include "lang/compiler.hpp"
#include "lang/diagnostics.hpp"
#include "lang/modules.hpp"

namespace pipette::lang {

struct Value {
  Operand op;
  Type type;
  bool poisoned = false;  // an error was already reported: stay quiet downstream
  bool abstract = false;  // an unknown value while checking a body abstractly
  bool no_value = false;  // what a pipeline without `return` gives

  static Value poison() {
    Value v;
    v.poisoned = true;
    return v;
  }
  bool usable() const { return !poisoned && !no_value; }
  bool constant() const { return !abstract && op.is_constant(); }
};

struct Binding {
  enum class Kind { Let, Param, Loop, PipelineParam, Broken };
  Kind kind = Kind::Let;
  Value value;
  Span def;
  bool used = false;
};

struct Scope {
  Scope* parent = nullptr;
  bool barrier = false;  // a pipeline body: outer names are not visible
  std::map<std::string, Binding> names;
  std::map<std::string, Span> later;  // defined further down this block
};

class Elaborator {
 public:
  Elaborator(const OpRegistry& ops, SourceManager& sm, Diagnostics& diags, const CompileOptions& options,
             const ModuleSet& modules);
  Graph run();

 private:
  struct PipelineInfo {
    const ast::PipelineDef* def = nullptr;
    FileId file = 0;
    std::vector<std::optional<Type>> param_types;  // nullopt: not written (any)
    bool called = false;
  };
  struct CallSite {
    std::string pipeline;
    Span at;
    // The pipeline call's device= and resources=, for the nodes inside it
    // that do not say their own.
    std::string device;
    Resources resources;
  };
  // A call's placement arguments, device= and resources=, taken out of the
  // call before its arguments are bound (a callee with a parameter of that
  // name keeps it). `call` points at the call without them.
  struct Placement {
    bool ok = true;
    std::string device;
    Resources resources;
    std::optional<int64_t> shards;  // shards=N
    Span shards_at;
    ast::NameOrCall stripped;
    const ast::NameOrCall* call = nullptr;
  };
  Placement placement(const ast::NameOrCall& c, const std::function<bool(const std::string&)>& is_param, Scope& scope);
  // shards=N on a call of a shardable op: N calls on example ranges of its
  // per-example arguments (tensor.shard), concatenated (tensor.cat).
  std::optional<Operand> sharded_call(const OpSignature& sig, const std::vector<std::pair<std::string, Operand>>& args,
                                      const Placement& where, Span at);
  // shards=N of an op declared shardable_via(map, finish).
  std::optional<Operand> sharded_via(const OpSignature& sig, const std::vector<std::pair<std::string, Operand>>& args,
                                     const Placement& where, Span at);
  struct TooBig {};  // thrown when the expansion passes CompileOptions::max_nodes

  // One parameter as seen by argument binding, for ops and pipelines alike.
  struct ParamView {
    std::string name;
    Type type;
    bool required = true;
    std::optional<Operand> default_op;            // op default
    const ast::Expr* default_expr = nullptr;      // pipeline default (evaluated per call)
    const ParamSpec* spec = nullptr;              // op parameter, for choices/ranges
  };

  // --- setup (elaborate_module.cpp)
  void load_plugins();
  void collect_pipelines();
  void check_module_statements(const Module& m);
  void check_uncalled_pipelines();
  void check_unused_sets();

  // --- statements (elaborate_stmts.cpp)
  // Returns the value of a `return` when `in_pipeline`.
  std::optional<Value> block(const std::vector<ast::Stmt>& stmts, Scope& scope, bool in_pipeline, bool top_level);
  void let_stmt(const ast::LetStmt& s, Scope& scope);
  void param_stmt(const ast::ParamStmt& s, Scope& scope, bool top_level);
  void report_stmt(const ast::ReportStmt& s, Scope& scope);
  void expr_stmt(const ast::ExprStmt& s, Scope& scope);
  void for_stmt(const ast::ForStmt& s, Scope& scope, bool in_pipeline);
  std::optional<Value> param_value(const ast::ParamStmt& s, const Type& type, Scope& scope);
  bool check_new_name(const ast::Identifier& id, Scope& scope);
  void close_scope(Scope& scope);

  // --- expressions (elaborate_exprs.cpp)
  Value expr(const ast::Expr& e, Scope& scope);
  Value primary(const ast::Primary& p, Scope& scope);
  Value name(const ast::QualName& q, Scope& scope);
  Value member(const Value& base, const ast::Identifier& field);
  Value string_lit(const ast::StringLit& s, Scope& scope);
  Value number(const ast::NumberLit& n);
  Binding* lookup(const std::string& name, Scope& scope);
  void unknown_name(const std::string& name, Span at, Scope& scope);

  // --- calls (elaborate_calls.cpp)
  Value call(const ast::NameOrCall& c, std::optional<Value> piped, Span piped_span, Scope& scope);
  Value op_call(const OpSignature& sig, const ast::NameOrCall& c, std::optional<Value> piped, Span piped_span,
                Scope& scope);
  Value pipeline_call(const std::string& name, PipelineInfo& p, const ast::NameOrCall& c, std::optional<Value> piped,
                      Span piped_span, Scope& scope);
  std::optional<std::vector<Value>> bind_arguments(const std::string& callee, const std::vector<ParamView>& params,
                                                   const ast::NameOrCall& c, std::optional<Value> piped,
                                                   Span piped_span, Scope& scope, std::vector<Span>& arg_spans,
                                                   FileId default_file);
  bool check_argument(const std::string& callee, const ParamView& p, Value& v, Span at);
  const OpSignature* find_op(const std::string& name) const;
  std::vector<std::string> callable_names() const;
  uint32_t add_node(const OpSignature& sig, std::vector<std::pair<std::string, Operand>> args, Span at);

  // --- expansion bound (elaborate_bound.cpp): nodes a piece adds at least,
  // so that a script that must pass CompileOptions::max_nodes is refused
  // before it is expanded.
  uint64_t nodes_at_least(const ast::NameOrCall& c);
  uint64_t nodes_at_least(const ast::Expr& e);
  uint64_t nodes_at_least(const std::vector<ast::Stmt>& stmts);
  uint64_t nodes_at_least_in_pipeline(const std::string& name);
  static uint64_t literal_list_length(const ast::Expr& e);
  // Throws TooBig when `times` x `more` nodes more would pass the limit.
  void check_expansion(uint64_t more, uint64_t times = 1);

  // --- helpers
  Span span(const ast::Node& n) const { return Span{file_, n.begin, n.end}; }
  Diagnostic& error(Span at, std::string message);
  Diagnostic& warning(Span at, std::string message);
  bool is_reserved_name(const std::string& name) const;
  static Operand coerce(const Operand& o, const Type& to);
  static Type type_of_constant(const Operand& o);

  const OpRegistry& ops_;
  OpRegistry plugin_ops_;
  SourceManager& sm_;
  Diagnostics& diags_;
  const CompileOptions& options_;
  const ModuleSet& modules_;

  Graph graph_;
  FileId file_ = 0;  // the file whose AST is being walked
  std::map<std::string, PipelineInfo> pipelines_;
  std::vector<CallSite> call_stack_;
  std::set<std::string> plugins_;
  std::map<std::string, Span> report_names_;
  std::map<std::string, std::string> report_stems_;  // file stem -> the report name that has it
  std::map<std::string, Span> save_paths_;
  std::map<std::string, bool> sets_used_;
  std::set<uint32_t> used_early_;  // definitions (by offset) used before they appear
  int abstract_depth_ = 0;
  uint64_t work_ = 0;
  std::map<std::string, uint64_t> node_bounds_;  // nodes_at_least_in_pipeline, by pipeline
};

}  // namespace pipette::lang
