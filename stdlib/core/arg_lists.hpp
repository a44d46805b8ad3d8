// Arguments that may be one value or a list of them (`window=4` or
// `window=[4, 4]`), as C++ vectors. Empty when the argument is none.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "engine/op_impl.hpp"

namespace pipette::stdlib {

std::vector<int64_t> int_list(const OpArgs& a, const std::string& name);     // int, list<int> or an int tensor
std::vector<double> float_list(const OpArgs& a, const std::string& name);    // float/int or a list of them
std::vector<std::string> string_list(const OpArgs& a, const std::string& name);
std::vector<at::Tensor> tensor_list(const OpArgs& a, const std::string& name);  // a tensor or list<tensor>

}  // namespace pipette::stdlib
