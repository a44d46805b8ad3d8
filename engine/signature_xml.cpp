#include "engine/signature_xml.hpp"

#include <pugixml.hpp>

#include <cstdio>
#include <stdexcept>

namespace pipette {

namespace {

void write_operand(const Operand& o, pugi::xml_node parent) {
  switch (o.kind) {
    case Operand::Kind::None: parent.append_child("none"); break;
    case Operand::Kind::Bool: parent.append_child("bool").text().set(o.b ? "true" : "false"); break;
    case Operand::Kind::Int: parent.append_child("int").text().set(std::to_string(o.i).c_str()); break;
    case Operand::Kind::Float: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", o.f);  // round-trips exactly
      parent.append_child("float").text().set(buf);
      break;
    }
    case Operand::Kind::String: parent.append_child("string").text().set(o.s.c_str()); break;
    case Operand::Kind::List: {
      auto l = parent.append_child("list");
      for (auto& it : o.items) write_operand(it, l);
      break;
    }
    case Operand::Kind::Record: {
      auto r = parent.append_child("record");
      for (auto& [k, v] : o.fields) {
        auto f = r.append_child("field");
        f.append_attribute("name") = k.c_str();
        write_operand(v, f);
      }
      break;
    }
    case Operand::Kind::Ref: throw std::logic_error("a default value cannot refer to a node");
  }
}

Operand read_operand(const pugi::xml_node& n) {
  std::string kind = n.name();
  if (kind == "none") return Operand::none();
  if (kind == "bool") return Operand::boolean(std::string(n.text().get()) == "true");
  if (kind == "int") return Operand::integer(n.text().as_llong());
  if (kind == "float") return Operand::real(n.text().as_double());
  if (kind == "string") return Operand::string(n.text().get());
  if (kind == "list") {
    std::vector<Operand> items;
    for (auto c : n.children()) items.push_back(read_operand(c));
    return Operand::list(std::move(items));
  }
  if (kind == "record") {
    std::vector<std::pair<std::string, Operand>> fields;
    for (auto f : n.children("field")) fields.emplace_back(f.attribute("name").value(), read_operand(f.first_child()));
    return Operand::record(std::move(fields));
  }
  throw std::runtime_error("unknown value element <" + kind + ">");
}

Type read_type(const char* text, const std::string& where) {
  auto t = Type::parse(text);
  if (!t) throw std::runtime_error(where + ": bad type '" + std::string(text) + "'");
  return *t;
}

void set_bool(pugi::xml_node n, const char* name, bool v) {
  if (v) n.append_attribute(name) = "true";  // absent means false: keeps the cache small
}

}  // namespace

void write_signature_xml(const OpSignature& sig, pugi::xml_node parent) {
  auto op = parent.append_child("op");
  op.append_attribute("name") = sig.name().c_str();
  op.append_attribute("version") = sig.version();
  op.append_attribute("returns") = sig.output().to_string().c_str();
  set_bool(op, "side-effects", sig.has_side_effects());
  set_bool(op, "stochastic", sig.is_stochastic());
  set_bool(op, "light", sig.is_light());
  if (!sig.shard_map_op().empty()) {
    op.append_attribute("shard-map") = sig.shard_map_op().c_str();
    op.append_attribute("shard-finish") = sig.shard_finish_op().c_str();
  } else if (sig.is_shardable()) {
    std::string names;
    for (auto& n : sig.shard_params()) names += (names.empty() ? "" : ",") + n;
    op.append_attribute("shard-params") = names.c_str();
    if (!sig.shard_reduce_param().empty()) op.append_attribute("shard-reduce") = sig.shard_reduce_param().c_str();
  }
  if (!sig.default_resources().empty()) op.append_attribute("resources") = sig.default_resources().to_string().c_str();
  set_bool(op, "passes-nonfinite", sig.passes_nonfinite_values());
  set_bool(op, "returns-nonfinite", sig.may_return_nonfinite_values() && !sig.passes_nonfinite_values());
  set_bool(op, "implemented", sig.implemented());
  op.append_child("doc").text().set(sig.doc().c_str());
  if (!sig.output_doc().empty()) op.append_child("returns-doc").text().set(sig.output_doc().c_str());
  for (auto& p : sig.params()) {
    auto x = op.append_child("param");
    x.append_attribute("name") = p.name.c_str();
    x.append_attribute("type") = p.type.to_string().c_str();
    set_bool(x, "compile-time", p.compile_time);
    set_bool(x, "output-path", p.output_path);
    set_bool(x, "input-file", p.input_file);
    if (!p.feeds.empty()) x.append_attribute("feeds") = p.feeds.c_str();
    if (p.images) {
      std::string channels;
      for (int64_t c : p.image_channels) {
        if (!channels.empty()) channels += ',';
        channels += std::to_string(c);
      }
      x.append_attribute("images") = channels.empty() ? "any" : channels.c_str();
    }
    if (p.min) x.append_attribute("min") = *p.min;
    if (p.max) x.append_attribute("max") = *p.max;
    x.append_child("doc").text().set(p.doc.c_str());
    for (auto& c : p.choices) x.append_child("choice").text().set(c.c_str());
    if (!p.required) write_operand(p.default_value, x.append_child("default"));
  }
}

OpSignature read_signature_xml(const pugi::xml_node& op) {
  std::string name = op.attribute("name").value();
  if (name.empty()) throw std::runtime_error("an <op> without a name");
  OpSignature sig(name, op.child("doc").text().get(), op.attribute("version").as_int(1));
  for (auto x : op.children("param")) {
    ParamSpec p;
    p.name = x.attribute("name").value();
    p.type = read_type(x.attribute("type").value(), "op " + name + " parameter " + p.name);
    p.doc = x.child("doc").text().get();
    p.compile_time = x.attribute("compile-time").as_bool();
    p.output_path = x.attribute("output-path").as_bool();
    p.input_file = x.attribute("input-file").as_bool();
    p.feeds = x.attribute("feeds").value();
    if (auto im = x.attribute("images")) {
      p.images = true;
      std::string channels = im.value();
      for (size_t at = 0; channels != "any" && at < channels.size();) {
        size_t comma = std::min(channels.find(',', at), channels.size());
        p.image_channels.push_back(std::stoll(channels.substr(at, comma - at)));
        at = comma + 1;
      }
    }
    if (auto a = x.attribute("min")) p.min = a.as_double();
    if (auto a = x.attribute("max")) p.max = a.as_double();
    for (auto c : x.children("choice")) p.choices.push_back(c.text().get());
    if (auto d = x.child("default")) {
      p.required = false;
      p.default_value = read_operand(d.first_child());
    }
    sig.add_param(std::move(p));
  }
  sig.returns(read_type(op.attribute("returns").value(), "op " + name), op.child("returns-doc").text().get());
  if (op.attribute("side-effects").as_bool()) sig.side_effects();
  if (op.attribute("stochastic").as_bool()) sig.stochastic();
  if (op.attribute("light").as_bool()) sig.light();
  if (auto sh = op.attribute("shard-params")) {
    std::vector<std::string> names;
    std::string text = sh.as_string();
    for (size_t at = 0; at <= text.size();) {
      size_t comma = std::min(text.find(',', at), text.size());
      if (comma > at) names.push_back(text.substr(at, comma - at));
      at = comma + 1;
    }
    sig.shardable(std::move(names), op.attribute("shard-reduce").as_string());
  }
  if (auto map = op.attribute("shard-map")) sig.shardable_via(map.as_string(), op.attribute("shard-finish").as_string());
  if (auto res = op.attribute("resources")) {
    // "cpus=4 mem=16G": what Resources::to_string wrote.
    Resources r;
    std::string text = res.as_string();
    for (size_t at = 0; at < text.size();) {
      size_t sp = text.find(' ', at);
      std::string kv = text.substr(at, sp == std::string::npos ? std::string::npos : sp - at);
      at = sp == std::string::npos ? text.size() : sp + 1;
      size_t eq = kv.find('=');
      if (eq == std::string::npos || set_resource(r, kv.substr(0, eq), kv.substr(eq + 1)))
        throw std::runtime_error("op " + sig.name() + ": malformed resources \"" + text + "\"");
    }
    sig.resources(r);
  }
  if (op.attribute("passes-nonfinite").as_bool()) sig.passes_nonfinite();
  if (op.attribute("returns-nonfinite").as_bool()) sig.may_return_nonfinite();
  sig.set_implemented(op.attribute("implemented").as_bool());
  return sig;
}

}  // namespace pipette
