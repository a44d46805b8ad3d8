// Ops outside any namespace.
#include <fmt/format.h>

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
                         "extension: .pt (torch.load; models: torch.jit.load), .pt2 (models loaded from torch.export: "
                         "torch.export.load), .json, .npy (tensors; numpy.load) or .csv (tables: a record of equal-length columns; 1-D/2-D tensors as rows).")
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

  lib.define(OpSignature("choose",
                         "THEN when CONDITION is true, else OTHERWISE: settings that follow one switch, "
                         "train.lm(steps=choose(quick, 300, 2000)) with `param quick: bool = false`. Both values "
                         "are inputs, so both are computed: choose between constants or cheap values.")
                 .input("condition", "bool", "The switch")
                 .input("then", "any", "The value when CONDITION is true")
                 .input("otherwise", "any", "The value when it is false")
                 .passes_nonfinite()
                 .returns("any", "THEN or OTHERWISE"),
             [](const OpArgs& a, OpContext&) { return a.bool_("condition") ? a["then"] : a["otherwise"]; });

  lib.define(OpSignature("element",
                         "Element INDEX of a list (0-based; -1 is the last): element(m.checkpoints, 0).")
                 .input("values", "list<any>", "The list")
                 .input("index", "int", "0-based; negative counts from the end")
                 .passes_nonfinite()
                 .returns("any", "The element"),
             [](const OpArgs& a, OpContext&) {
               const auto& l = a["values"].toListRef();
               int64_t n = static_cast<int64_t>(l.size()), i = a.int_("index");
               if (i < -n || i >= n)
                 throw OpError(fmt::format("index {} is outside the list of {} element{}", i, n, n == 1 ? "" : "s"));
               return l[static_cast<size_t>(i < 0 ? i + n : i)];
             });

  lib.define(OpSignature("field",
                         "The field NAME of a record, with a name known only as a string: inside a loop, "
                         "report \"{m}_recovery\" = field(summary, \"{m}_recovery\").")
                 .input("record", "record", "The record")
                 .input("name", "string", "The field's name")
                 .passes_nonfinite()
                 .returns("any", "The field's value"),
             [](const OpArgs& a, OpContext&) { return select_path(a["record"], {a.string("name")}); });

  lib.define(OpSignature("tabulate",
                         "A table from rows: records with the same fields (numbers, strings, bools, 0-d tensors) "
                         "become one column per field, in the first row's field order, so that results gathered "
                         "from pipelines save as one CSV: tabulate([{method: \"ga\", acc: a}, {method: \"npo\", acc: b}]).")
                 .input("rows", "list<record>|list<list<record>>", "The rows, or lists of rows (joined in order)")
                 .passes_nonfinite()
                 .returns("table", "A record of equal-length columns: a list per field, a float64 tensor for numbers"),
             [](const OpArgs& a, OpContext&) {
               std::vector<Value> rows;
               for (const auto& r : a["rows"].toListRef()) {
                 if (r.isList())
                   for (const auto& x : r.toListRef()) rows.push_back(x);
                 else
                   rows.push_back(r);
               }
               if (rows.empty()) throw OpError("rows is empty: a table needs at least one row");
               std::vector<std::string> names;
               for (const auto& kv : rows[0].toGenericDict()) names.push_back(kv.key().toStringRef());
               std::vector<std::pair<std::string, Value>> columns;
               for (const auto& name : names) {
                 bool numeric = true;
                 std::vector<Value> cells;
                 for (size_t i = 0; i < rows.size(); ++i) {
                   auto d = rows[i].toGenericDict();
                   if (!d.contains(name))
                     throw OpError(fmt::format("row {} has no field '{}' (the first row has it)", i, name));
                   if (d.size() != names.size())
                     throw OpError(fmt::format("row {} has {} fields, the first row {}", i, d.size(), names.size()));
                   Value v = d.at(name);
                   if (v.isTensor() && v.toTensor().numel() == 1) v = Value(v.toTensor().item<double>());
                   if (!v.isDouble() && !v.isInt() && !v.isBool()) numeric = false;
                   if (!v.isDouble() && !v.isInt() && !v.isBool() && !v.isString())
                     throw OpError(fmt::format("row {}: field '{}' is {}; a cell is a number, a string or a bool", i,
                                               name, describe(v)));
                   cells.push_back(v);
                 }
                 if (numeric) {
                   std::vector<double> x;
                   for (const auto& v : cells) x.push_back(v.isDouble() ? v.toDouble() : v.isInt() ? static_cast<double>(v.toInt()) : v.toBool());
                   columns.emplace_back(name, Value(at::tensor(x, at::kDouble)));
                 } else {
                   c10::List<std::string> l;
                   for (const auto& v : cells) l.push_back(v.isString() ? v.toStringRef()
                                             : v.isDouble() ? fmt::format("{}", v.toDouble())
                                             : v.isInt()    ? std::to_string(v.toInt())
                                                            : (v.toBool() ? "true" : "false"));
                   columns.emplace_back(name, Value(l));
                 }
               }
               return make_record(columns);
             });
}

}  // namespace pipette::stdlib
