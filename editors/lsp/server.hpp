// `pipette lsp`: a Language Server over stdio. Diagnostics as you type (the
// compiler `pipette check` runs, plugin ops from the registry cache), completion
// of op names, parameter names and variables, hover with an op's signature and
// documentation, go-to-definition for let/param/pipeline/for and imports, and
// whole-document formatting (`pipette fmt`).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "editors/lsp/document.hpp"
#include "engine/op_registry.hpp"
#include "lang/compiler.hpp"

namespace pipette::lsp {

struct ServerConfig {
  const OpRegistry* ops = nullptr;                       // the standard library
  std::function<lang::CompileOptions()> compile_options;  // module path, plugin resolver
};

class Server {
 public:
  explicit Server(ServerConfig config);
  // Serves until `exit`; returns the process status (0 after a `shutdown`).
  int serve(std::istream& in, std::ostream& out);

  // One message in; the messages to send back (a response and/or notifications).
  std::vector<nlohmann::json> handle(const nlohmann::json& message);

 private:
  nlohmann::json dispatch(const std::string& method, const nlohmann::json& params, std::vector<nlohmann::json>& out);
  void open(const std::string& uri, std::string text, std::vector<nlohmann::json>& out);
  std::vector<nlohmann::json> diagnose(const Document& doc);
  // The registry a document sees: the standard library plus its declared plugins.
  std::unique_ptr<OpRegistry> registry_for(const Document& doc);
  nlohmann::json completion(const Document& doc, uint32_t offset);
  nlohmann::json hover(const Document& doc, uint32_t offset);
  nlohmann::json definition(const Document& doc, uint32_t offset);
  nlohmann::json formatting(const Document& doc);

  ServerConfig config_;
  std::map<std::string, std::unique_ptr<Document>> docs_;
  std::map<std::string, std::set<std::string>> published_;  // document -> other files it put diagnostics on
  bool shutdown_ = false;
  bool exit_ = false;
};

}  // namespace pipette::lsp
