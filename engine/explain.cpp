#include "engine/explain.hpp"

#include <map>
#include <tuple>

namespace pipette {

namespace {

using Place = std::tuple<std::string, std::string, int>;  // op, file:line:col, occurrence

std::vector<Place> places(const std::vector<std::pair<std::string, std::string>>& op_loc) {
  std::map<std::pair<std::string, std::string>, int> seen;
  std::vector<Place> out;
  for (auto& ol : op_loc) out.emplace_back(ol.first, ol.second, seen[ol]++);
  return out;
}

std::map<std::string, std::string> as_map(const Ingredients& in) { return {in.begin(), in.end()}; }

std::string shorten(const std::string& s) { return s.size() > 60 ? s.substr(0, 57) + "..." : s; }

}  // namespace

std::vector<std::string> explain_reruns(const Graph& g, const std::vector<NodeKey>& keys,
                                        const std::vector<Ingredients>& now, const std::vector<bool>& will_run,
                                        const StoredRun* previous) {
  std::vector<std::string> out(g.nodes.size());
  std::map<std::string, uint32_t> node_by_key;
  for (auto& n : g.nodes) node_by_key.emplace(keys[n.id].hex(), n.id);

  std::vector<std::pair<std::string, std::string>> cur_ol, prev_ol;
  for (auto& n : g.nodes) cur_ol.emplace_back(n.op, n.loc.to_string());
  std::map<Place, const StoredRun::NodeRow*> before;
  if (previous) {
    for (auto& row : previous->nodes) prev_ol.emplace_back(row.op, row.loc);
    auto prev_places = places(prev_ol);
    for (size_t i = 0; i < previous->nodes.size(); ++i) before.emplace(prev_places[i], &previous->nodes[i]);
  }
  auto cur_places = places(cur_ol);

  for (auto& n : g.nodes) {
    if (!will_run[n.id]) continue;
    if (n.side_effect) {
      out[n.id] = "it writes files (" + n.op + "), which happens in every run";
      continue;
    }
    if (!previous) {
      out[n.id] = "not in the cache, and the run store has no earlier run of this script to compare with";
      continue;
    }
    auto it = before.find(cur_places[n.id]);
    if (it == before.end()) {
      out[n.id] = "new: run " + previous->id + " had no " + n.op + " node here";
      continue;
    }
    const StoredRun::NodeRow& old = *it->second;
    auto a = as_map(old.ingredients), b = as_map(now[n.id]);
    std::vector<std::string> why;
    for (auto& [name, value] : b) {
      auto o = a.find(name);
      if (o == a.end()) {
        why.push_back(name == "run seed" ? "the op is new to the seed" : name.substr(0, 4) == "arg " ?
                      "parameter '" + name.substr(4) + "' is new" : name + " is new");
        continue;
      }
      if (o->second == value) continue;
      if (name == "op") {
        why.push_back("the op's version changed: " + o->second + " -> " + value);
      } else if (name == "run seed") {
        why.push_back("the run seed changed: " + o->second + " -> " + value + " (a stochastic op)");
      } else if (name.rfind("file ", 0) == 0) {
        why.push_back("file '" + name.substr(5) + "' changed on disk");
      } else if (name.rfind("arg ", 0) == 0 && value.find("\"@") != std::string::npos) {
        std::string inputs;
        for (auto& [key, id] : node_by_key) {
          if (value.find("@" + key) == std::string::npos) continue;
          const Node& src = g.nodes[id];
          inputs += (inputs.empty() ? "" : ", ") + (node_name(id) + " " + src.op + " at " + src.loc.to_string());
        }
        why.push_back("input '" + name.substr(4) + "' changed" + (inputs.empty() ? "" : " (from " + inputs + ")"));
      } else if (name.rfind("arg ", 0) == 0) {
        why.push_back("parameter '" + name.substr(4) + "' changed: " + shorten(o->second) + " -> " + shorten(value));
      } else {
        why.push_back(name + " changed");
      }
    }
    for (auto& [name, value] : a)
      if (!b.count(name)) why.push_back(name.rfind("arg ", 0) == 0 ? "parameter '" + name.substr(4) + "' is gone" : name + " is gone");
    if (why.empty()) {
      if (old.status != "done")
        why.push_back("it did not finish in run " + previous->id + " (" + old.status + ")");
      else if (old.ingredients.empty())
        why.push_back("run " + previous->id + " recorded no provenance for it (an older pipette)");
      else
        why.push_back("same inputs as in run " + previous->id + ", but its cache entry is gone (cache cleaned, or "
                      "that run used --no-cache)");
    }
    std::string joined;
    for (auto& w : why) joined += (joined.empty() ? "" : "; ") + w;
    out[n.id] = joined;
  }
  return out;
}

}  // namespace pipette
