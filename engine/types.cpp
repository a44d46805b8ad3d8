#include "engine/types.hpp"

#include <algorithm>
#include <cctype>

namespace pipette {

namespace {
const std::vector<Type>& empty_types() {
  static const std::vector<Type> empty;
  return empty;
}
}  // namespace

Type Type::list(Type element) {
  Type t(Kind::List);
  t.children_ = std::make_shared<const std::vector<Type>>(std::vector<Type>{std::move(element)});
  return t;
}

Type Type::record() { return Type(Kind::Record); }

Type Type::record(std::vector<Field> fields) {
  Type t(Kind::Record);
  t.fields_ = std::make_shared<const std::vector<Field>>(std::move(fields));
  return t;
}

Type Type::dataset(std::vector<Field> fields) {
  Type t(Kind::Dataset);
  t.fields_ = std::make_shared<const std::vector<Field>>(std::move(fields));
  return t;
}

Type Type::union_of(std::vector<Type> members) {
  std::vector<Type> flat;
  for (auto& m : members) {
    if (m.is(Kind::Any)) return Type::any();
    if (m.is(Kind::Union)) {
      for (auto& inner : m.members()) flat.push_back(inner);
    } else {
      flat.push_back(std::move(m));
    }
  }
  std::vector<Type> unique;
  for (auto& m : flat)
    if (std::find(unique.begin(), unique.end(), m) == unique.end()) unique.push_back(m);
  if (unique.size() == 1) return unique.front();
  Type t(Kind::Union);
  t.children_ = std::make_shared<const std::vector<Type>>(std::move(unique));
  return t;
}

const Type& Type::element() const {
  static const Type any_type;
  return kind_ == Kind::List && children_ ? children_->front() : any_type;
}

const std::vector<Type::Field>* Type::fields() const {
  return kind_ == Kind::Record || kind_ == Kind::Dataset ? fields_.get() : nullptr;
}

const std::vector<Type>& Type::members() const {
  return kind_ == Kind::Union && children_ ? *children_ : empty_types();
}

const Type* Type::field(std::string_view name) const {
  if (auto* fs = fields())
    for (auto& f : *fs)
      if (f.name == name) return &f.type;
  return nullptr;
}

bool Type::accepts(const Type& from) const {
  if (kind_ == Kind::Any || from.kind_ == Kind::Any) return true;
  if (from.kind_ == Kind::Union) {
    // Every alternative of the value must fit.
    return std::all_of(from.members().begin(), from.members().end(),
                       [&](const Type& m) { return accepts(m); });
  }
  if (kind_ == Kind::Union) {
    return std::any_of(members().begin(), members().end(),
                       [&](const Type& m) { return m.accepts(from); });
  }
  if (kind_ == Kind::Float && from.kind_ == Kind::Int) return true;
  if (kind_ != from.kind_) return false;
  if (kind_ == Kind::List) return element().accepts(from.element());
  if (kind_ == Kind::Record || kind_ == Kind::Dataset) {
    if (!fields_) return true;
    if (!from.fields_) return true;  // an open record may hold the fields; checked at run time
    for (auto& f : *fields_) {
      const Type* have = from.field(f.name);
      if (!have || !f.type.accepts(*have)) return false;
    }
    return true;
  }
  return true;
}

bool Type::is_constant_kind() const {
  switch (kind_) {
    case Kind::Int: case Kind::Float: case Kind::Bool: case Kind::String: case Kind::None:
      return true;
    case Kind::List: return element().is(Kind::Any) || element().is_constant_kind();
    case Kind::Record:
      if (!fields_) return true;
      return std::all_of(fields_->begin(), fields_->end(),
                         [](const Field& f) { return f.type.is(Kind::Any) || f.type.is_constant_kind(); });
    case Kind::Union:
      return std::all_of(members().begin(), members().end(), [](const Type& m) { return m.is_constant_kind(); });
    default: return false;
  }
}

std::string Type::to_string() const {
  switch (kind_) {
    case Kind::Any: return "any";
    case Kind::None: return "none";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Bool: return "bool";
    case Kind::String: return "string";
    case Kind::Tensor: return "tensor";
    case Kind::Model: return "model";
    case Kind::Table: return "table";
    case Kind::List: return "list<" + element().to_string() + ">";
    case Kind::Record:
    case Kind::Dataset: {
      const char* word = kind_ == Kind::Record ? "record" : "dataset";
      if (!fields_) return word;
      std::string s = std::string(word) + "{";
      for (size_t i = 0; i < fields_->size(); ++i) {
        if (i) s += ", ";
        s += (*fields_)[i].name + ": " + (*fields_)[i].type.to_string();
      }
      return s + "}";
    }
    case Kind::Union: {
      std::string s;
      for (size_t i = 0; i < members().size(); ++i) {
        if (i) s += "|";
        s += members()[i].to_string();
      }
      return s;
    }
  }
  return "?";
}

bool Type::operator==(const Type& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::List: return element() == other.element();
    case Kind::Union: return members() == other.members();
    case Kind::Record:
    case Kind::Dataset: {
      if (!fields_ || !other.fields_) return !fields_ && !other.fields_;
      if (fields_->size() != other.fields_->size()) return false;
      for (size_t i = 0; i < fields_->size(); ++i)
        if ((*fields_)[i].name != (*other.fields_)[i].name || !((*fields_)[i].type == (*other.fields_)[i].type))
          return false;
      return true;
    }
    default: return true;
  }
}

const std::vector<std::string>& type_names() {
  static const std::vector<std::string> names = {"int", "float", "bool", "string", "list", "record",
                                                 "tensor", "model", "dataset", "table", "any", "none"};
  return names;
}

// ---- parsing the type notation -------------------------------------------------

namespace {

class TypeReader {
 public:
  explicit TypeReader(std::string_view s) : s_(s) {}

  std::optional<Type> read_all() {
    auto t = read_union();
    skip_ws();
    if (!t || pos_ != s_.size()) return std::nullopt;
    return t;
  }

 private:
  std::optional<Type> read_union() {
    std::vector<Type> members;
    do {
      auto t = read_single();
      if (!t) return std::nullopt;
      members.push_back(*t);
    } while (eat('|'));
    return members.size() == 1 ? members.front() : Type::union_of(std::move(members));
  }

  std::optional<Type> read_single() {
    if (++depth_ > 32) return std::nullopt;  // the notation is written by people, never deep
    std::string word = read_word();
    std::optional<Type> result;
    if (word == "any") result = Type::any();
    else if (word == "none") result = Type::none();
    else if (word == "int") result = Type::int_();
    else if (word == "float") result = Type::float_();
    else if (word == "bool") result = Type::bool_();
    else if (word == "string") result = Type::string();
    else if (word == "tensor") result = Type::tensor();
    else if (word == "model") result = Type::model();
    else if (word == "table") result = Type::table();
    else if (word == "list") {
      if (!eat('<')) {
        result = Type::list(Type::any());
      } else {
        auto e = read_union();
        if (e && eat('>')) result = Type::list(*e);
      }
    } else if (word == "record" || word == "dataset") {
      bool record = word == "record";
      if (!eat('{')) {
        result = record ? Type::record() : Type::dataset();
      } else {
        std::vector<Type::Field> fields;
        bool ok = true;
        if (!eat('}')) {
          do {
            std::string name = read_word();
            auto t = name.empty() || !eat(':') ? std::nullopt : read_union();
            if (!t) { ok = false; break; }
            fields.push_back({name, *t});
          } while (eat(','));
          ok = ok && eat('}');
        }
        if (ok) result = record ? Type::record(std::move(fields)) : Type::dataset(std::move(fields));
      }
    }
    --depth_;
    return result;
  }

  std::string read_word() {
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) { ++pos_; return true; }
    return false;
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::optional<Type> Type::parse(std::string_view text) { return TypeReader(text).read_all(); }

}  // namespace pipette
