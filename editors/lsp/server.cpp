#include "editors/lsp/server.hpp"

#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>

#include "editors/lsp/transport.hpp"
#include "lang/diagnostics.hpp"
#include "lang/format.hpp"
#include "lang/lexer.hpp"
#include "lang/parser.hpp"
#include "lang/syntax.hpp"

namespace pipette::lsp {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// JSON-RPC and LSP constants.
constexpr int kMethodNotFound = -32601;
constexpr int kInternalError = -32603;
constexpr int kCompletionFunction = 3, kCompletionVariable = 6, kCompletionProperty = 10, kCompletionKeyword = 14;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string markdown_of(const OpSignature& sig) {
  std::string md = "```\n" + sig.to_string() + "\n```\n\n" + sig.doc() + "\n";
  if (!sig.params().empty()) md += "\n";
  for (auto& p : sig.params()) {
    md += "- `" + p.name + "`: " + p.type.to_string();
    if (!p.doc.empty()) md += " — " + p.doc;
    md += "\n";
  }
  if (!sig.output_doc().empty()) md += "\nReturns " + sig.output().to_string() + ": " + sig.output_doc() + "\n";
  if (!sig.plugin().empty()) md += "\n(plugin `" + sig.plugin() + "`)\n";
  return md;
}

// Where the cursor is inside a call: the callee of the innermost open '(' and
// whether the cursor starts an argument (after '(' or ',').
struct CallContext {
  std::string callee;
  bool at_argument = false;
};

CallContext call_context(const std::string& text, uint32_t word_begin) {
  auto tokens = lang::lex(std::string_view(text).substr(0, word_begin));
  struct Open {
    char ch;
    std::string callee;
  };
  std::vector<Open> stack;
  const lang::Token* last = nullptr;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto& t = tokens[i];
    if (t.kind == lang::TokenKind::Newline || t.kind == lang::TokenKind::Comment) continue;
    if (t.is("(") || t.is("[") || t.is("{")) {
      std::string callee;
      if (t.is("(")) {
        // Identifier ('.' Identifier)* right before the bracket.
        size_t j = i;
        while (j > 0 && tokens[j - 1].kind == lang::TokenKind::Identifier) {
          callee = std::string(tokens[j - 1].text) + (callee.empty() ? "" : "." + callee);
          if (j >= 2 && tokens[j - 2].is(".")) j -= 2;
          else break;
        }
      }
      stack.push_back({t.text[0], callee});
    } else if ((t.is(")") || t.is("]") || t.is("}")) && !stack.empty()) {
      stack.pop_back();
    }
    last = &t;
  }
  CallContext c;
  if (!stack.empty() && stack.back().ch == '(') {
    c.callee = stack.back().callee;
    c.at_argument = last && (last->is("(") || last->is(","));
  }
  return c;
}

json location(const std::string& uri, json range) { return {{"uri", uri}, {"range", std::move(range)}}; }

}  // namespace

Server::Server(ServerConfig config) : config_(std::move(config)) {}

int Server::serve(std::istream& in, std::ostream& out) {
  while (!exit_) {
    std::optional<std::string> frame;
    try {
      frame = read_frame(in);
    } catch (const std::exception& e) {
      write_message(out, {{"jsonrpc", "2.0"},
                          {"method", "window/logMessage"},
                          {"params", {{"type", 1}, {"message", std::string("pipette lsp: ") + e.what()}}}});
      return 1;
    }
    if (!frame) break;
    json message = json::parse(*frame, nullptr, false);
    if (message.is_discarded()) {
      write_message(out, {{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", -32700}, {"message", "parse error"}}}});
      continue;
    }
    for (auto& reply : handle(message)) write_message(out, reply);
  }
  return shutdown_ ? 0 : 1;
}

std::vector<json> Server::handle(const json& message) {
  std::vector<json> out;
  std::string method = message.value("method", "");
  bool is_request = message.contains("id");
  json params = message.value("params", json::object());
  try {
    if (shutdown_ && method != "exit") {
      if (is_request)
        out.push_back({{"jsonrpc", "2.0"},
                       {"id", message["id"]},
                       {"error", {{"code", -32600}, {"message", "the server is shutting down"}}}});
      return out;
    }
    json result = dispatch(method, params, out);
    if (is_request) {
      if (result.is_object() && result.contains("__error")) {
        out.insert(out.begin(), json{{"jsonrpc", "2.0"}, {"id", message["id"]}, {"error", result["__error"]}});
      } else {
        out.insert(out.begin(), json{{"jsonrpc", "2.0"}, {"id", message["id"]}, {"result", result}});
      }
    }
  } catch (const std::exception& e) {
    // A bug in one handler must not take the editor's server down.
    if (is_request)
      out.push_back({{"jsonrpc", "2.0"},
                     {"id", message["id"]},
                     {"error", {{"code", kInternalError}, {"message", std::string(e.what())}}}});
  }
  return out;
}

json Server::dispatch(const std::string& method, const json& params, std::vector<json>& out) {
  auto doc_of = [&]() -> Document* {
    auto it = docs_.find(params.at("textDocument").at("uri").get<std::string>());
    return it == docs_.end() ? nullptr : it->second.get();
  };
  if (method == "initialize") {
    return {{"capabilities",
             {{"textDocumentSync", {{"openClose", true}, {"change", 1}, {"save", {{"includeText", false}}}}},
              {"completionProvider", {{"triggerCharacters", json::array({".", "(", ","})}}},
              {"hoverProvider", true},
              {"definitionProvider", true},
              {"documentFormattingProvider", true}}},
            {"serverInfo", {{"name", "pipette"}, {"version", PIPETTE_VERSION}}}};
  }
  if (method == "initialized" || method == "$/setTrace" || method == "$/cancelRequest" ||
      method == "workspace/didChangeConfiguration")
    return nullptr;
  if (method == "shutdown") {
    shutdown_ = true;
    return nullptr;
  }
  if (method == "exit") {
    exit_ = true;
    return nullptr;
  }
  if (method == "textDocument/didOpen") {
    auto& td = params.at("textDocument");
    open(td.at("uri"), td.at("text"), out);
    return nullptr;
  }
  if (method == "textDocument/didChange") {
    auto& changes = params.at("contentChanges");
    if (!changes.empty()) open(params.at("textDocument").at("uri"), changes.back().at("text"), out);
    return nullptr;
  }
  if (method == "textDocument/didSave") {
    if (auto* d = doc_of()) open(d->uri(), d->text(), out);
    return nullptr;
  }
  if (method == "textDocument/didClose") {
    std::string uri = params.at("textDocument").at("uri");
    docs_.erase(uri);
    for (auto& other : published_[uri]) out.push_back({{"jsonrpc", "2.0"}, {"method", "textDocument/publishDiagnostics"}, {"params", {{"uri", other}, {"diagnostics", json::array()}}}});
    published_.erase(uri);
    return nullptr;
  }
  if (method.rfind("textDocument/", 0) == 0) {
    Document* d = doc_of();
    if (!d) return nullptr;
    if (method == "textDocument/formatting") return formatting(*d);
    uint32_t offset = d->offset_at(params.at("position"));
    if (method == "textDocument/completion") return completion(*d, offset);
    if (method == "textDocument/hover") return hover(*d, offset);
    if (method == "textDocument/definition") return definition(*d, offset);
  }
  if (method.rfind("$/", 0) == 0) return nullptr;  // optional notifications
  return {{"__error", {{"code", kMethodNotFound}, {"message", "pipette lsp does not implement " + method}}}};
}

void Server::open(const std::string& uri, std::string text, std::vector<json>& out) {
  auto doc = std::make_unique<Document>(uri, path_from_uri(uri), std::move(text));
  auto notes = diagnose(*doc);
  docs_[uri] = std::move(doc);
  out.insert(out.end(), notes.begin(), notes.end());
}

std::vector<json> Server::diagnose(const Document& doc) {
  lang::Compiler compiler(*config_.ops, config_.compile_options ? config_.compile_options() : lang::CompileOptions{});
  compiler.compile_text(doc.path(), doc.text());
  auto& sm = compiler.sources();
  // Positions in files other than the document (imports) come from their text.
  std::map<std::string, std::unique_ptr<Document>> others;
  auto doc_for = [&](const lang::Span& span) -> const Document* {
    auto& f = sm.file(span.file);
    if (f.path() == doc.path() && f.text() == doc.text()) return &doc;
    auto uri = uri_from_path(fs::absolute(f.path()).lexically_normal().string());
    auto& slot = others[uri];
    if (!slot) slot = std::make_unique<Document>(uri, f.path(), f.text());
    return slot.get();
  };
  std::map<std::string, json> by_uri;
  by_uri[doc.uri()] = json::array();
  for (auto& d : compiler.diagnostics().all()) {
    const Document* where = d.span ? doc_for(*d.span) : &doc;
    json range = d.span ? where->range_of(d.span->begin, d.span->end) : doc.range_of(0, 0);
    std::string message = d.message;
    for (auto& h : d.hints) message += "\n" + h;
    json item = {{"range", range},
                 {"severity", d.severity == lang::Severity::Error ? 1 : d.severity == lang::Severity::Warning ? 2 : 3},
                 {"source", "pipette"},
                 {"message", message}};
    json related = json::array();
    for (auto& n : d.notes) {
      if (!n.span) {
        item["message"] = item["message"].get<std::string>() + "\nnote: " + n.message;
        continue;
      }
      const Document* nd = doc_for(*n.span);
      related.push_back({{"location", location(nd->uri(), nd->range_of(n.span->begin, n.span->end))},
                         {"message", n.message}});
    }
    if (!related.empty()) item["relatedInformation"] = related;
    by_uri[where->uri()].push_back(item);
  }
  std::vector<json> out;
  auto& previous = published_[doc.uri()];
  for (auto& old : previous)
    if (!by_uri.count(old)) by_uri[old] = json::array();  // clear what is fixed
  previous.clear();
  for (auto& [uri, list] : by_uri) {
    if (uri != doc.uri() && !list.empty()) previous.insert(uri);
    out.push_back({{"jsonrpc", "2.0"},
                   {"method", "textDocument/publishDiagnostics"},
                   {"params", {{"uri", uri}, {"diagnostics", list}}}});
  }
  previous.insert(doc.uri());
  return out;
}

std::unique_ptr<OpRegistry> Server::registry_for(const Document& doc) {
  auto reg = std::make_unique<OpRegistry>(*config_.ops);
  if (config_.compile_options) {
    auto options = config_.compile_options();
    if (options.resolve_plugin)
      for (auto& p : doc.plugins()) options.resolve_plugin(p, *reg);  // an unknown plugin is a diagnostic already
  }
  return reg;
}

json Server::completion(const Document& doc, uint32_t offset) {
  const std::string& text = doc.text();
  json items = json::array();
  // Nothing to offer inside comments and strings.
  std::string_view line = doc.line_of(offset);
  uint32_t line_begin = static_cast<uint32_t>(line.data() - text.data());
  auto line_tokens = lang::lex(std::string_view(text).substr(line_begin, offset - line_begin));
  if (!line_tokens.empty()) {
    auto& t = line_tokens.back();
    bool open_string = t.kind == lang::TokenKind::Error && !t.text.empty() && t.text[0] == '"';
    if (t.kind == lang::TokenKind::Comment || open_string) return {{"isIncomplete", false}, {"items", items}};
    if (t.kind == lang::TokenKind::String && t.end == offset - line_begin) return {{"isIncomplete", false}, {"items", items}};
  }
  uint32_t begin = offset;
  while (begin > 0 && name_char(text[begin - 1])) --begin;
  std::string prefix = text.substr(begin, offset - begin);
  json edit_range = doc.range_of(begin, offset);
  auto starts = [&](const std::string& s) { return s.compare(0, prefix.size(), prefix) == 0; };
  auto reg = registry_for(doc);

  auto ctx = call_context(text, begin);
  if (ctx.at_argument && prefix.find('.') == std::string::npos) {
    if (auto* sig = reg->find(ctx.callee)) {
      for (auto& p : sig->params()) {
        if (!starts(p.name)) continue;
        items.push_back({{"label", p.name + "="},
                         {"kind", kCompletionProperty},
                         {"detail", p.type.to_string() + (p.required ? "" : " = " + p.default_value.to_source())},
                         {"documentation", p.doc},
                         {"sortText", "0" + p.name},
                         {"textEdit", {{"range", edit_range}, {"newText", p.name + "="}}}});
      }
    }
    if (auto* pipe = doc.visible(ctx.callee, offset); pipe && pipe->kind == Definition::Kind::Pipeline) {
      for (auto& d : doc.definitions())
        if (d.kind == Definition::Kind::PipelineParam && d.scope_begin == pipe->stmt_begin && starts(d.name))
          items.push_back({{"label", d.name + "="},
                           {"kind", kCompletionProperty},
                           {"sortText", "0" + d.name},
                           {"textEdit", {{"range", edit_range}, {"newText", d.name + "="}}}});
    }
  }
  for (auto* sig : reg->ops()) {
    if (!starts(sig->name())) continue;
    items.push_back({{"label", sig->name()},
                     {"kind", kCompletionFunction},
                     {"detail", sig->to_string()},
                     {"documentation", {{"kind", "markdown"}, {"value", markdown_of(*sig)}}},
                     {"sortText", "2" + sig->name()},
                     {"textEdit", {{"range", edit_range}, {"newText", sig->name()}}}});
  }
  if (prefix.find('.') == std::string::npos) {
    for (auto* d : doc.all_visible(offset)) {
      if (!starts(d->name) || (d->begin <= offset && offset <= d->end)) continue;
      items.push_back({{"label", d->name},
                       {"kind", d->kind == Definition::Kind::Pipeline ? kCompletionFunction : kCompletionVariable},
                       {"detail", std::string(doc.line_of(d->stmt_begin))},
                       {"sortText", "1" + d->name},
                       {"textEdit", {{"range", edit_range}, {"newText", d->name}}}});
    }
    bool statement_start = text.substr(line_begin, begin - line_begin).find_first_not_of(" \t") == std::string::npos;
    if (statement_start)
      for (auto& k : lang::syntax::keywords())
        if (starts(k)) items.push_back({{"label", k}, {"kind", kCompletionKeyword}, {"sortText", "3" + k}});
  }
  return {{"isIncomplete", false}, {"items", items}};
}

json Server::hover(const Document& doc, uint32_t offset) {
  auto word = doc.word_at(offset);
  if (!word) return nullptr;
  auto reg = registry_for(doc);
  auto reply = [&](const std::string& md) {
    return json{{"contents", {{"kind", "markdown"}, {"value", md}}}, {"range", doc.range_of(word->begin, word->end)}};
  };
  // An op: the whole dotted name, wherever in it the cursor is.
  uint32_t full_end = word->end;
  while (full_end < doc.text().size() && name_char(doc.text()[full_end])) ++full_end;
  if (auto* sig = reg->find(doc.text().substr(word->begin, full_end - word->begin))) {
    word->end = full_end;
    return reply(markdown_of(*sig));
  }
  if (auto* sig = reg->find(word->text)) return reply(markdown_of(*sig));
  // A parameter name in a call: `steps` in `f(x, steps=50)`.
  size_t after = doc.text().find_first_not_of(" \t", word->end);
  if (after != std::string::npos && doc.text()[after] == '=') {
    auto ctx = call_context(doc.text(), word->begin);
    if (auto* sig = reg->find(ctx.callee))
      if (auto* p = sig->find_param(word->text))
        return reply("`" + p->name + "`: " + p->type.to_string() +
                     (p->required ? "" : " = " + p->default_value.to_source()) + "\n\n" + p->doc + "\n\n(parameter of `" +
                     sig->name() + "`)");
  }
  std::string head = word->text.substr(0, word->text.find('.'));
  if (auto* d = doc.visible(head, offset)) {
    std::string src = std::string(doc.line_of(d->stmt_begin));
    return reply("```pipe\n" + src.substr(src.find_first_not_of(" \t") == std::string::npos ? 0 : src.find_first_not_of(" \t")) + "\n```");
  }
  return nullptr;
}

json Server::definition(const Document& doc, uint32_t offset) {
  fs::path dir = fs::path(doc.path()).parent_path();
  auto options = config_.compile_options ? config_.compile_options() : lang::CompileOptions{};
  // Where an import points (modules.cpp's rules).
  auto resolve = [&](const Import& imp) -> std::optional<fs::path> {
    if (imp.is_path) {
      fs::path p = dir / imp.target;
      if (fs::exists(p)) return fs::absolute(p).lexically_normal();
      return std::nullopt;
    }
    std::string rel = imp.target;
    for (auto& c : rel)
      if (c == '.') c = '/';
    for (auto& m : options.module_path) {
      fs::path p = fs::path(m) / (rel + ".pipe");
      if (fs::exists(p)) return fs::absolute(p).lexically_normal();
    }
    return std::nullopt;
  };
  json start_of_file = {{"start", {{"line", 0}, {"character", 0}}}, {"end", {{"line", 0}, {"character", 0}}}};
  for (auto& imp : doc.imports())
    if (offset >= imp.begin && offset <= imp.end) {
      if (auto p = resolve(imp)) return location(uri_from_path(p->string()), start_of_file);
      return nullptr;
    }
  auto word = doc.word_at(offset);
  if (!word) return nullptr;
  std::string head = word->text.substr(0, word->text.find('.'));
  if (auto* d = doc.visible(head, offset)) return location(doc.uri(), doc.range_of(d->begin, d->end));
  // A pipeline from an imported file.
  for (auto& imp : doc.imports()) {
    auto p = resolve(imp);
    if (!p) continue;
    Document other(uri_from_path(p->string()), p->string(), read_file(*p));
    for (auto& d : other.definitions())
      if (d.kind == Definition::Kind::Pipeline && d.name == head)
        return location(other.uri(), other.range_of(d.begin, d.end));
  }
  return nullptr;
}

json Server::formatting(const Document& doc) {
  lang::SourceManager sm;
  lang::Diagnostics diags;
  lang::parse_program(sm, sm.add(doc.path(), doc.text()), diags);
  if (diags.has_errors()) return json::array();  // never reformat what does not parse
  auto f = lang::format_source(doc.text());
  if (!f.error.empty() || f.text == doc.text()) return json::array();
  return json::array({{{"range", doc.range_of(0, static_cast<uint32_t>(doc.text().size()))}, {"newText", f.text}}});
}

}  // namespace pipette::lsp
