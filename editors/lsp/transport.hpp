// JSON-RPC 2.0 messages framed as the Language Server Protocol frames them:
// "Content-Length: N\r\n\r\n" then N bytes of JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <optional>
#include <string>

namespace pipette::lsp {

// The next message; nullopt at end of input. Throws std::runtime_error on a
// malformed frame (the server then answers nothing and stops: the stream is lost).
std::optional<std::string> read_frame(std::istream& in);
void write_message(std::ostream& out, const nlohmann::json& message);

}  // namespace pipette::lsp
