// "Did you mean" candidates by edit distance, as compilers offer them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api.hpp"

namespace pipette {

PIPETTE_API size_t edit_distance(std::string_view a, std::string_view b);

// The closest candidate within a distance that scales with the word's length
// (a third of it, at least 1), or nullopt. Ties go to the earlier candidate.
PIPETTE_API std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pipette
