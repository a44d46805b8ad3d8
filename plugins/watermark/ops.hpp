// The watermark plugin's ops (ops.cpp).
#pragma once

#include "engine/plugin_api.hpp"

namespace watermark {

void register_ops(pipette::OpLibrary& lib);

}  // namespace watermark
