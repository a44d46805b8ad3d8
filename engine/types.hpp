// The value types of the pipeline language, shared by the type checker (lang/)
// and the op signatures (engine/, stdlib/, plugins).
#pragma once

#include "engine/api.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipette {

class PIPETTE_API Type {
 public:
  enum class Kind { Any, None, Int, Float, Bool, String, Tensor, Model, Dataset, Table, List, Record, Union };

  struct Field;

  Type() = default;  // any
  static Type any() { return Type(Kind::Any); }
  static Type none() { return Type(Kind::None); }
  static Type int_() { return Type(Kind::Int); }
  static Type float_() { return Type(Kind::Float); }
  static Type bool_() { return Type(Kind::Bool); }
  static Type string() { return Type(Kind::String); }
  static Type tensor() { return Type(Kind::Tensor); }
  static Type model() { return Type(Kind::Model); }
  // A dataset of any fields; `dataset{images: tensor}` is one known to have at
  // least an `images` field (each field read whole is a tensor).
  static Type dataset() { return Type(Kind::Dataset); }
  static Type dataset(std::vector<Field> fields);
  static Type table() { return Type(Kind::Table); }
  static Type list(Type element);
  // An open record: any fields. `record{a: int}` is a record known to hold at least `a`.
  static Type record();
  static Type record(std::vector<Field> fields);
  static Type union_of(std::vector<Type> members);

  // Parses the notation that to_string() writes: "int", "list<float>",
  // "record{images: tensor, labels: tensor}", "int|tensor". Returns nullopt on error.
  static std::optional<Type> parse(std::string_view text);

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  const Type& element() const;                       // List only
  const std::vector<Field>* fields() const;          // Record, Dataset: nullptr when open
  const std::vector<Type>& members() const;          // Union only
  const Type* field(std::string_view name) const;    // Record or Dataset with known fields

  // Whether a value of type `from` may be passed where `*this` is expected.
  // int widens to float; records with more fields fit fewer; `any` fits both ways.
  bool accepts(const Type& from) const;
  // A type is constant when its values are known at compile time (scalars, lists
  // and records of them): such values can be params, loop lists and interpolations.
  bool is_constant_kind() const;

  std::string to_string() const;
  bool operator==(const Type& other) const;

 private:
  explicit Type(Kind k) : kind_(k) {}
  Kind kind_ = Kind::Any;
  std::shared_ptr<const std::vector<Type>> children_;   // List: 1 element; Union: members
  std::shared_ptr<const std::vector<Field>> fields_;    // Record: known fields
};

struct Type::Field {
  std::string name;
  Type type;
};

// Names the language reserves for types, in the order docs and editors list them.
PIPETTE_API const std::vector<std::string>& type_names();

}  // namespace pipette
