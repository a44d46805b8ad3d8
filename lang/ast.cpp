#include "lang/ast.hpp"

namespace pipette::lang::ast {

std::string QualName::joined() const {
  std::string s;
  for (auto& p : parts) {
    if (!s.empty()) s += '.';
    s += p.name;
  }
  return s;
}

}  // namespace pipette::lang::ast
