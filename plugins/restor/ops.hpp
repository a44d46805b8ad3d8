// The restor plugin's op families, each registered from its own file, and
// what they share: the facts table as a value.
#pragma once

#include "engine/plugin_api.hpp"

#include <string>
#include <vector>

#include "facts.hpp"

namespace restor {

void register_fact_ops(pipette::OpLibrary& lib);      // fact_ops.cpp
void register_unlearn_ops(pipette::OpLibrary& lib);   // unlearn_ops.cpp
void register_evaluate_ops(pipette::OpLibrary& lib);  // evaluate_ops.cpp
void register_locate_ops(pipette::OpLibrary& lib);    // locate_ops.cpp

// The type of a facts table, as signatures declare it.
inline constexpr const char* kFactsType =
    "record{entity: list<string>, relation: list<string>, answer: list<string>, answers: list<string>}";

// A facts table (columns entity, relation, answer, answers: the acceptable
// answers joined by "|", the stated one first) to and from facts. A missing
// column, columns of different lengths or an unknown relation is an OpError
// naming the argument.
pipette::Value facts_value(const std::vector<Fact>& facts);
std::vector<Fact> facts_arg(const pipette::OpArgs& a, const std::string& name);

std::vector<std::string> string_list(const pipette::Value& v, const std::string& what);

}  // namespace restor
