// Ops outside any namespace.
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_core(OpRegistry& r) {
  r.add(OpSignature("save",
                    "Writes a value to a file under the run's output directory. The format follows the "
                    "extension: .pt (torch.load), .npy, .json, .csv, .png.")
            .input("value", "any", "What to write")
            .input("path", "string", "File name, relative to the output directory (`pipette run --out`)")
            .output_path()
            .side_effects()
            .returns("string", "The path written, relative to the output directory"));
}

}  // namespace pipette::stdlib
