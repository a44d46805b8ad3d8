// How many nodes a piece of a script adds at least, counted on the syntax tree
// before anything is expanded: a script of 41 pipelines that each call the one
// before twice expands to 2^41 nodes, and materialising a million of them (each
// with its chain of inlined call sites) took 16 s and 5 GB before the limit
// refused it. With the bound, the refusal costs a walk of the tree.
//
// A lower bound: loops over lists that are not literals count as empty,
// arguments left to defaults as free, so a script is refused only when it is
// sure to pass the limit.
#include <algorithm>
#include <limits>

#include "lang/elaborator.hpp"

namespace pipette::lang {

namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max() / 4;

uint64_t add(uint64_t a, uint64_t b) { return std::min(kSaturated, a + b); }
uint64_t mul(uint64_t a, uint64_t b) { return a != 0 && b > kSaturated / a ? kSaturated : a * b; }

}  // namespace

uint64_t Elaborator::nodes_at_least(const ast::NameOrCall& c) {
  uint64_t n = 0;
  if (c.args)
    for (auto& a : *c.args) n = add(n, nodes_at_least(a.value));
  if (!c.is_call()) return n;
  std::string callee = c.name.joined();
  if (c.name.parts.size() == 1) {
    if (auto it = pipelines_.find(callee); it != pipelines_.end()) return add(n, nodes_at_least_in_pipeline(callee));
  }
  return add(n, find_op(callee) ? 1 : 0);
}

uint64_t Elaborator::nodes_at_least(const ast::Expr& e) {
  uint64_t n = 0;
  const ast::Primary& base = e.head.base;
  if (auto* call = boost::get<ast::x3::forward_ast<ast::NameOrCall>>(&base)) n = nodes_at_least(call->get());
  else if (auto* inner = boost::get<ast::x3::forward_ast<ast::Expr>>(&base)) n = nodes_at_least(inner->get());
  else if (auto* list = boost::get<ast::x3::forward_ast<ast::ListLit>>(&base))
    for (auto& item : list->get().items) n = add(n, nodes_at_least(item));
  else if (auto* rec = boost::get<ast::x3::forward_ast<ast::RecordLit>>(&base))
    for (auto& f : rec->get().fields) n = add(n, nodes_at_least(f.value));
  for (auto& stage : e.pipes) n = add(n, nodes_at_least(stage));
  return n;
}

uint64_t Elaborator::nodes_at_least(const std::vector<ast::Stmt>& stmts) {
  uint64_t n = 0;
  for (auto& stmt : stmts) {
    std::visit(
        [&](auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, ast::LetStmt> || std::is_same_v<T, ast::ReportStmt> ||
                        std::is_same_v<T, ast::ExprStmt> || std::is_same_v<T, ast::ReturnStmt>) {
            n = add(n, nodes_at_least(s.value));
          } else if constexpr (std::is_same_v<T, ast::ForStmt>) {
            n = add(n, nodes_at_least(s.header.list));
            n = add(n, mul(literal_list_length(s.header.list), nodes_at_least(s.body)));
          }
        },
        stmt.v);
  }
  return n;
}

uint64_t Elaborator::nodes_at_least_in_pipeline(const std::string& name) {
  if (auto it = node_bounds_.find(name); it != node_bounds_.end()) return it->second;
  node_bounds_[name] = 0;  // a pipeline that calls itself is diagnosed elsewhere; count it once
  uint64_t n = nodes_at_least(pipelines_.at(name).def->body);
  node_bounds_[name] = n;
  return n;
}

uint64_t Elaborator::literal_list_length(const ast::Expr& e) {
  if (!e.pipes.empty() || !e.head.members.empty()) return 0;
  if (auto* list = boost::get<ast::x3::forward_ast<ast::ListLit>>(&e.head.base)) return list->get().items.size();
  return 0;
}

void Elaborator::check_expansion(uint64_t more, uint64_t times) {
  if (add(graph_.nodes.size(), mul(times, more)) > options_.max_nodes) throw TooBig{};
}

}  // namespace pipette::lang
