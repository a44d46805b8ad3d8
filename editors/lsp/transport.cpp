#include "editors/lsp/transport.hpp"

#include <istream>
#include <ostream>
#include <stdexcept>

namespace pipette::lsp {

std::optional<std::string> read_frame(std::istream& in) {
  long length = -1;
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    any = true;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of headers
    auto colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("malformed header '" + line + "'");
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "content-length") length = std::stol(line.substr(colon + 1));
  }
  if (!any) return std::nullopt;
  if (length < 0) {
    if (!in) return std::nullopt;
    throw std::runtime_error("a message without Content-Length");
  }
  std::string body(static_cast<size_t>(length), '\0');
  in.read(body.data(), length);
  if (in.gcount() != length) throw std::runtime_error("input ended inside a message");
  return body;
}

void write_message(std::ostream& out, const nlohmann::json& message) {
  std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out << "Content-Length: " << body.size() << "\r\n\r\n" << body;
  out.flush();
}

}  // namespace pipette::lsp
