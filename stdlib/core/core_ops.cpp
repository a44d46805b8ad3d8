// Ops outside any namespace.
#include "engine/value_io.hpp"
#include "stdlib/data/file_readers.hpp"
#include "stdlib/data/npy_reader.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

void register_core(OpLibrary& lib) {
  lib.define(OpSignature("load",
                         "Reads what torch.save wrote: a tensor, or a dict of them such as a state_dict (a record: "
                         "load(\"stats.pt\").mean; keys that are not names, like \"0.weight\", are reached with "
                         "tensor.load(path, key=...)), nested dicts and lists, numbers and strings; also .npy (a "
                         "tensor) and .safetensors (a record of its tensors). Both torch.save formats (zip, and the "
                         "legacy one before PyTorch 1.6) are read without Python.")
                 .input("path", "string", "The file; relative paths are relative to the script")
                 .input_file()
                 .passes_nonfinite()
                 .returns("any", "A tensor, or a record of what the file holds"),
             [](const OpArgs& a, OpContext& ctx) {
               auto path = ctx.input_path(a.string("path"));
               std::string ext = path.extension().string();
               if (ext == ".npy") return Value(read_npy(path));
               if (ext == ".safetensors") {
                 std::vector<std::pair<std::string, Value>> fields;
                 for (auto& [name, t] : read_safetensors(path)) fields.emplace_back(name, Value(t));
                 return make_record(fields);
               }
               return read_pt_file(path);
             });

  lib.define(OpSignature("save",
                         "Writes a value to a file under the run's output directory. The format follows the "
                         "extension: .pt (torch.load; models: torch.jit.load), .json, .npy (tensors; numpy.load) "
                         "or .csv (tables: a record of equal-length columns; 1-D/2-D tensors as rows).")
                 .input("value", "any", "What to write")
                 .input("path", "string", "File name, relative to the output directory (`pipette run --out`)")
                 .output_path()
                 .side_effects()
                 .passes_nonfinite()
                 .returns("string", "The path written, relative to the output directory"),
             [](const OpArgs& a, OpContext& ctx) {
               ctx.write_output(a.string("path"), encode_value_file(a["value"], a.string("path")));
               return Value(a.string("path"));
             });
}

}  // namespace pipette::stdlib
