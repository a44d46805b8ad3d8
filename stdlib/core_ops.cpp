// Ops outside any namespace.
#include "engine/value_io.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_core(OpLibrary& lib) {
  lib.define(OpSignature("save",
                         "Writes a value to a file under the run's output directory. The format follows the "
                         "extension: .pt (torch.load; models: torch.jit.load), .json, .npy (tensors; numpy.load) "
                         "or .csv (tables: a record of equal-length columns; 1-D/2-D tensors as rows).")
                 .input("value", "any", "What to write")
                 .input("path", "string", "File name, relative to the output directory (`pipette run --out`)")
                 .output_path()
                 .side_effects()
                 .returns("string", "The path written, relative to the output directory"),
             [](const OpArgs& a, OpContext& ctx) {
               ctx.write_output(a.string("path"), encode_value_file(a["value"], a.string("path")));
               return Value(a.string("path"));
             });
}

}  // namespace pipette::stdlib
