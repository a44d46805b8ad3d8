// An argument of a graph node: a compile-time constant, a reference to another
// node's output (optionally a field inside a record output), or a list/record
// mixing both. Constants folded by the compiler are part of a node's identity.
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pipette {

struct PIPETTE_API Operand {
  enum class Kind { None, Bool, Int, Float, String, List, Record, Ref };

  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                                        // String
  std::vector<Operand> items;                           // List
  std::vector<std::pair<std::string, Operand>> fields;  // Record, in written order
  uint32_t node = 0;                                    // Ref: index into Graph::nodes
  std::vector<std::string> path;                        // Ref: record fields to select

  // Special members are defaulted after the class: a vector of pairs holding
  // Operand may only be destroyed once Operand is complete (clang enforces it).
  Operand();
  ~Operand();
  Operand(const Operand&);
  Operand(Operand&&) noexcept;
  Operand& operator=(const Operand&);
  Operand& operator=(Operand&&) noexcept;

  static Operand none();
  static Operand boolean(bool v);
  static Operand integer(int64_t v);
  static Operand real(double v);
  static Operand string(std::string v);
  static Operand list(std::vector<Operand> v);
  static Operand record(std::vector<std::pair<std::string, Operand>> v);
  static Operand ref(uint32_t node, std::vector<std::string> path = {});

  bool is_constant() const;  // no Ref anywhere inside
  // Calls fn(ref) for every Ref inside, depth first, in written order.
  template <typename Fn> void for_each_ref(Fn&& fn) const {
    if (kind == Kind::Ref) fn(*this);
    for (auto& it : items) it.for_each_ref(fn);
    for (auto& [k, v] : fields) v.for_each_ref(fn);
  }
  template <typename Fn> void for_each_ref_mut(Fn&& fn) {
    if (kind == Kind::Ref) fn(*this);
    for (auto& it : items) it.for_each_ref_mut(fn);
    for (auto& [k, v] : fields) v.for_each_ref_mut(fn);
  }

  // A canonical, deterministic text form: equal operands give equal strings.
  // Used for merging identical nodes and, later, cache keys.
  std::string canonical() const;
  // How a person writes it in a script: 3, 0.5, "x", [1, 2], {a: 1}; refs as $n3.images.
  std::string to_source() const;
  // Scalar as text for string interpolation ("{n}"): no quotes around strings.
  std::string to_display() const;
};

PIPETTE_API bool operator==(const Operand& a, const Operand& b);

inline Operand::Operand() = default;
inline Operand::~Operand() = default;
inline Operand::Operand(const Operand&) = default;
inline Operand::Operand(Operand&&) noexcept = default;
inline Operand& Operand::operator=(const Operand&) = default;
inline Operand& Operand::operator=(Operand&&) noexcept = default;
inline Operand Operand::none() { return Operand(); }
inline Operand Operand::boolean(bool v) { Operand o; o.kind = Kind::Bool; o.b = v; return o; }
inline Operand Operand::integer(int64_t v) { Operand o; o.kind = Kind::Int; o.i = v; return o; }
inline Operand Operand::real(double v) { Operand o; o.kind = Kind::Float; o.f = v; return o; }
inline Operand Operand::string(std::string v) { Operand o; o.kind = Kind::String; o.s = std::move(v); return o; }
inline Operand Operand::list(std::vector<Operand> v) { Operand o; o.kind = Kind::List; o.items = std::move(v); return o; }
inline Operand Operand::record(std::vector<std::pair<std::string, Operand>> v) {
  Operand o; o.kind = Kind::Record; o.fields = std::move(v); return o;
}
inline Operand Operand::ref(uint32_t node, std::vector<std::string> path) {
  Operand o; o.kind = Kind::Ref; o.node = node; o.path = std::move(path); return o;
}

}  // namespace pipette
