#include "engine/html_compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "engine/html_page.hpp"
#include "engine/report_diff.hpp"

namespace pipette {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const char* compare_page_generator() { return "pipette runs compare"; }

namespace {

std::string cell_text(const json& j) {
  if (j.is_null()) return "<span class=meta>absent</span>";
  if (is_report_tensor_file(j))
    return "tensor " + html_escape(j["shape"].dump()) + " " + html_escape(j["dtype"].get<std::string>());
  if (!j.is_structured()) return html_scalar(j);
  std::string s = j.dump();
  return html_escape(s.size() > 200 ? s.substr(0, 197) + "..." : s);
}

// A number's change against the baseline, coloured by sign: "(+0.02)".
std::string delta(const json& base, const json& v) {
  if (!base.is_number() || !v.is_number()) return "";
  double d = v.get<double>() - base.get<double>();
  if (d == 0) return "";
  std::string rel;
  if (base.get<double>() != 0) rel = fmt::format(", {:+.1f} %", 100 * d / std::fabs(base.get<double>()));
  // Neutral: whether more is better depends on the report.
  return fmt::format(" <span class=delta>({:+.6g}{})</span>", d, rel);
}

// One row per key of the union, a cell per run; rows where a run differs from
// the first are marked `differs`, and sort first when asked.
void value_rows(std::ostringstream& h, const std::vector<std::map<std::string, json>>& values,
                const std::vector<ComparedRun>& runs, const std::string& cls) {
  std::set<std::string> keys;
  for (auto& m : values)
    for (auto& [k, v] : m) keys.insert(k);
  for (auto& k : keys) {
    std::vector<json> cells;
    for (auto& m : values) cells.push_back(m.count(k) ? m.at(k) : json());
    std::vector<std::string> changes(cells.size());
    bool differs = false;
    for (size_t i = 1; i < cells.size(); ++i) {
      bool files = is_report_tensor_file(cells[0]) || is_report_tensor_file(cells[i]);
      if (files && (!runs[0].has_files || !runs[i].has_files)) {
        // Equal names say nothing of equal contents: not compared, not "same".
        changes[i] = "<div class=meta>not compared (its file is not there)</div>";
        differs = true;
      } else if (is_tensor_leaf(cells[0]) && is_tensor_leaf(cells[i])) {
        if (auto c = tensor_change(cells[0], cells[i], runs[0].out_dir, runs[i].out_dir)) {
          changes[i] = "<div class=delta>" + html_escape(*c) + "</div>";
          differs = true;
        }
      } else if (cells[i] != cells[0]) {
        changes[i] = delta(cells[0], cells[i]);
        differs = true;
      }
    }
    h << "<tr class='" << cls << (differs ? " differs" : "") << "'><th>" << html_escape(k) << "</th>";
    for (size_t i = 0; i < cells.size(); ++i) h << "<td>" << cell_text(cells[i]) << changes[i] << "</td>";
    h << "<td>" << (differs ? "changed" : "<span class=same>same</span>") << "</td></tr>";
  }
}

std::string run_header_cells(const std::vector<ComparedRun>& runs) {
  std::string s;
  for (size_t i = 0; i < runs.size(); ++i)
    s += "<th>" + std::string(1, static_cast<char>(i < 26 ? 'A' + i : '?')) + ": " +
         html_escape(runs[i].report["run"].value("id", std::string())) + "</th>";
  return s;
}

}  // namespace

std::string compare_page(const std::vector<ComparedRun>& runs, const fs::path& page_dir) {
  std::ostringstream h;
  h << html_page_head(std::to_string(runs.size()) + " runs compared — pipette", compare_page_generator());
  h << "<h1>" << runs.size() << " runs compared</h1><div class=meta>Changes are against run A.</div>";
  h << "<style>tr.differs>th{background:#fff8c5}</style>";

  h << "<h2>Runs</h2><table id=runs><thead><tr><th></th>" << run_header_cells(runs) << "<th></th></tr></thead><tbody>";
  std::vector<std::map<std::string, json>> provenance(runs.size()), params(runs.size()), reports(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& run = runs[i].report["run"];
    for (const char* key : {"script", "script_hash", "status", "seed", "device", "executor",
                            "pipette_version", "libtorch_version"})
      if (run.contains(key)) provenance[i][key] = run[key];
    for (auto& [k, v] : json_member(run, "params", false).items()) params[i][k] = v;
    for (auto& [name, value] : json_member(runs[i].report, "reports", false).items())
      report_leaves(value, name, reports[i]);
  }
  value_rows(h, provenance, runs, "run");
  // When, and where its files are (every run's start differs: not a change).
  h << "<tr><th>started</th>";
  for (auto& r : runs) h << "<td>" << html_escape(r.report["run"].value("started", std::string())) << "</td>";
  h << "<td></td></tr><tr><th>files</th>";
  for (auto& r : runs) h << "<td class=meta>" << html_escape(r.note) << "</td>";
  h << "<td></td></tr></tbody></table>";

  h << "<h2>Params</h2><table id=params><thead><tr><th></th>" << run_header_cells(runs)
    << "<th></th></tr></thead><tbody>";
  value_rows(h, params, runs, "param");
  h << "</tbody></table>";

  h << "<h2>Reports</h2><table class=sortable id=reports><thead><tr><th>report</th>" << run_header_cells(runs)
    << "<th>vs A</th></tr></thead><tbody>";
  value_rows(h, reports, runs, "report");
  h << "</tbody></table>";

  // Pictures by path: a row each, the runs' versions side by side.
  std::set<fs::path> names;
  std::vector<std::set<fs::path>> has(runs.size());
  for (size_t i = 0; i < runs.size(); ++i)
    if (runs[i].has_files)
      for (auto& p : saved_pictures(runs[i].out_dir)) names.insert(p), has[i].insert(p);
  if (!names.empty()) {
    PicturePacker packer(page_dir);
    h << "<h2>Pictures</h2><table id=pictures><thead><tr><th></th>" << run_header_cells(runs) << "</tr></thead><tbody>";
    for (auto& rel : names) {
      h << "<tr class=picture><th>" << html_escape(rel.generic_string()) << "</th>";
      for (size_t i = 0; i < runs.size(); ++i)
        h << "<td>"
          << (has[i].count(rel) ? packer.figure(runs[i].out_dir, rel, std::string(1, char('A' + std::min<size_t>(i, 25))))
                                : "<span class=meta>absent</span>")
          << "</td>";
      h << "</tr>";
    }
    h << "</tbody></table>";
  }

  // Nodes by name and op: seconds per run, and how much slower or faster than A.
  std::map<std::pair<std::string, std::string>, std::vector<const json*>> by_node;
  std::vector<std::pair<std::string, std::string>> order;
  for (size_t i = 0; i < runs.size(); ++i)
    for (auto& n : json_member(runs[i].report, "nodes", true)) {
      auto key = std::make_pair(n.value("id", std::string()), n.value("op", std::string()));
      auto& slot = by_node[key];
      if (slot.empty()) slot.resize(runs.size(), nullptr), order.push_back(key);
      slot[i] = &n;
    }
  h << "<h2>Nodes</h2><table class=sortable id=nodes><thead><tr><th>node</th><th>op</th>" << run_header_cells(runs)
    << "</tr></thead><tbody>";
  std::vector<double> total(runs.size(), 0.0);
  for (auto& key : order) {
    auto& slot = by_node[key];
    h << "<tr class=node><td>" << html_escape(key.first) << "</td><td>" << html_escape(key.second) << "</td>";
    const json* base = slot[0];
    for (size_t i = 0; i < runs.size(); ++i) {
      const json* n = slot[i];
      if (!n) {
        h << "<td class=meta>absent</td>";
        continue;
      }
      std::string st = n->value("status", std::string());
      double s = n->value("seconds", 0.0);
      bool ran = st == "done" || st == "failed" || st == "cancelled";
      bool cached = n->value("cached", false);
      h << "<td class=num>";
      if (cached) h << "<span class=meta>cached</span>";
      else if (ran) h << html_seconds(s) << " s", total[i] += s;
      if (st != "done") h << " <span class='status-" << html_escape(st) << "'>" << html_escape(st) << "</span>";
      // Against A where both computed it and it took long enough for the
      // ratio to mean more than a busy machine's noise.
      if (i > 0 && base && ran && !cached && !base->value("cached", false) && base->value("status", "") == "done") {
        double b = base->value("seconds", 0.0);
        if (b > 0 && s > 0 && std::max(b, s) >= 0.01) {
          double ratio = s / b;
          if (ratio >= 1.1 || ratio <= 1 / 1.1)
            h << fmt::format(" <span class={}>(×{:.2f})</span>", ratio > 1 ? "up" : "down", ratio);
        }
      }
      h << "</td>";
    }
    h << "</tr>";
  }
  h << "</tbody><tfoot><tr><th colspan=2>computed, in all</th>";
  for (double t : total) h << "<td class=num>" << html_seconds(t) << " s</td>";
  h << "</tr></tfoot></table>";
  h << html_page_tail();
  return h.str();
}

}  // namespace pipette
