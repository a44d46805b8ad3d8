// Files torch.save wrote, read without Python: a tensor, a state_dict
// (OrderedDict) or any nesting of string-keyed dicts, lists and tuples of
// tensors and numbers, in the zip format (PyTorch >= 1.6) or the legacy one.
// Dicts become records, tuples lists. Anything else (a pickled nn.Module, a
// numpy array) is an error that names the Python class and says what pipette
// reads.
#pragma once

#include "engine/api.hpp"

#include <filesystem>

#include "engine/value.hpp"

namespace pipette {

PIPETTE_API Value read_torch_save_file(const std::filesystem::path& path);

}  // namespace pipette
