// The restor plugin's entry point: `plugin "restor"` in a script.
#include "ops.hpp"

namespace {

void register_restor(pipette::OpLibrary& lib) {
  restor::register_fact_ops(lib);
  restor::register_unlearn_ops(lib);
  restor::register_evaluate_ops(lib);
  restor::register_locate_ops(lib);
}

}  // namespace

PIPETTE_PLUGIN("restor", "0.1.0",
               "Corrupt a language model's knowledge, unlearn it, and score forgetting and recovery (RESTOR, "
               "Rezaei et al., TMLR 2025), on pipette's GPT and facts from WordNet",
               register_restor)
