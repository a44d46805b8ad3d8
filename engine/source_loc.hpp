// Where a piece of the graph came from in the user's script. The IR keeps resolved
// positions (not offsets) so that run-time errors can point at the source without
// the compiler's source manager.
#pragma once

#include <cstdint>
#include <string>

namespace pipette {

struct SourceLoc {
  std::string file;
  uint32_t line = 0;    // 1-based; 0 = unknown
  uint32_t column = 0;  // 1-based, in bytes
  uint32_t length = 0;  // bytes on that line

  bool known() const { return line != 0; }
  std::string to_string() const {  // file:line:col
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

}  // namespace pipette
