// The watermark plugin's op families.
#pragma once

#include "engine/plugin_api.hpp"

namespace watermark {

void register_ops(pipette::OpLibrary& lib);      // ops.cpp
void register_pgd_ops(pipette::OpLibrary& lib);  // pgd_ops.cpp
void register_learned_ops(pipette::OpLibrary& lib);  // learned_ops.cpp
void register_attack_ops(pipette::OpLibrary& lib);   // attack_ops.cpp
void register_treering_ops(pipette::OpLibrary& lib);  // treering_ops.cpp

}  // namespace watermark
