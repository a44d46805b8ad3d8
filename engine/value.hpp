// Run-time values. A value is a c10::IValue: tensors, ints, floats, bools,
// strings, lists, records (string-keyed dicts, in field order), TorchScript
// modules and none. IValues pickle to exactly what Python's torch.load reads.
#pragma once

#include "engine/api.hpp"

#include <ATen/core/ivalue.h>

#include <functional>
#include <string>

#include "engine/operand.hpp"

namespace pipette {

using Value = c10::IValue;

// A compile-time constant as a run-time value.
PIPETTE_API Value constant_value(const Operand& o);

// Selects record fields along `path` ("images", then ...). Throws OpError when a
// field is missing (possible for records the compiler could not see into).
PIPETTE_API Value select_path(const Value& v, const std::vector<std::string>& path);

// For messages and logs: "tensor float32[64, 1, 28, 28] on cpu", "int 3".
PIPETTE_API std::string describe(const Value& v);

// Whether `pred` holds for `v` or for any value inside its lists and records.
PIPETTE_API bool any_within(const Value& v, const std::function<bool(const Value&)>& pred);

// `v` rebuilt with every value that is not a list or record replaced by fn(it).
PIPETTE_API Value map_leaves(const Value& v, const std::function<Value(const Value&)>& fn);

// A record from fields, keeping their order.
PIPETTE_API Value make_record(const std::vector<std::pair<std::string, Value>>& fields);

// A list<string> value.
PIPETTE_API Value string_list_value(const std::vector<std::string>& items);

}  // namespace pipette
