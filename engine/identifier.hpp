// Whether a name can stand as an identifier in the TorchScript that pipette
// generates (wrapper forwards, argument names, attribute paths): ASCII letters,
// digits and '_', not starting with a digit. One definition for every file
// that writes TorchScript source.
#pragma once

#include <cctype>
#include <string>

namespace pipette {

inline bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace pipette
