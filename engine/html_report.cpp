#include "engine/html_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/atomic_file.hpp"
#include "engine/html_page.hpp"
#include "engine/op_impl.hpp"

namespace pipette {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {


// "file:12:3" -> 12 when `file` is the script.
int line_of(const std::string& loc, const std::string& script) {
  if (loc.rfind(script + ":", 0) != 0) return 0;
  try {
    return std::stoi(loc.substr(script.size() + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

std::string mib(int64_t bytes) {
  std::ostringstream s;
  s.precision(bytes < (10 << 20) ? 2 : 0);
  s << std::fixed << bytes / 1048576.0;
  return s.str();
}

// When each computed node ran: a bar per node from its start to its end, in
// lanes so that nodes running at once sit one above the other (concurrency is
// the height). Nodes from the cache did not run and are counted only.
std::string timeline(const json& nodes, const std::string& script) {
  struct Bar {
    double start, seconds;
    const json* node;
  };
  std::vector<Bar> bars;
  size_t cached = 0;
  for (auto& n : nodes) {
    if (n.value("cached", false)) ++cached;
    if (n.contains("started") && n["started"].is_number())
      bars.push_back({n["started"].get<double>(), n.value("seconds", 0.0), &n});
  }
  if (bars.empty()) return "";
  std::sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) { return a.start < b.start; });
  std::vector<double> lane_end;
  std::vector<size_t> lane(bars.size());
  double span = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    double end = bars[i].start + bars[i].seconds;
    span = std::max(span, end);
    size_t l = 0;
    while (l < lane_end.size() && lane_end[l] > bars[i].start + 1e-9) ++l;
    if (l == lane_end.size()) lane_end.push_back(0);
    lane_end[l] = end;
    lane[i] = l;
  }
  span = std::max(span, 1e-3);
  const double width = 1000, left = 16, row = 18, top = 4;
  double height = top + row * static_cast<double>(lane_end.size()) + 22;
  std::ostringstream svg;
  svg << "<svg class=timeline id=timeline viewBox='0 0 " << width + 2 * left << " " << height << "' width='100%' role=img>"
      << "<title>when each node ran: " << bars.size() << " nodes, at most " << lane_end.size() << " at once, "
      << html_seconds(span) << " s</title>";
  for (size_t i = 0; i < bars.size(); ++i) {
    const json& n = *bars[i].node;
    double x = left + width * bars[i].start / span, w = std::max(1.0, width * bars[i].seconds / span);
    double y = top + row * static_cast<double>(lane[i]);
    std::string op = n.value("op", std::string()), st = n.value("status", std::string());
    int line = line_of(n.value("loc", std::string()), script);
    svg << "<rect class='bar" << (st == "failed" ? " failed" : "") << "' x='" << html_number(x) << "' y='" << y
        << "' width='" << html_number(w) << "' height='" << row - 4 << "'><title>"
        << html_escape(n.value("id", std::string())) << " " << html_escape(op) << ": " << html_seconds(bars[i].seconds)
        << " s from " << html_seconds(bars[i].start) << " s" << (line > 0 ? ", line " + std::to_string(line) : "")
        << "</title></rect>";
    if (w > 7.0 * static_cast<double>(op.size()))
      svg << "<text x='" << html_number(x + 3) << "' y='" << y + row - 8 << "' fill='#fff' style='fill:#fff'>"
          << html_escape(op) << "</text>";
  }
  // Ticks at 1, 2 or 5 times a power of ten, about 8 of them.
  double step = std::pow(10.0, std::floor(std::log10(span / 8)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (span / (step * m) <= 8) {
      step *= m;
      break;
    }
  double axis = top + row * static_cast<double>(lane_end.size()) + 4;
  svg << "<line x1='" << left << "' x2='" << left + width << "' y1='" << axis << "' y2='" << axis << "' stroke='#999'/>";
  for (double t = 0; t <= span + 1e-9; t += step)
    svg << "<text x='" << html_number(left + width * t / span) << "' y='" << axis + 14 << "' text-anchor='middle'>"
        << html_number(t) << " s</text>";
  svg << "</svg>";
  std::string note = "<p class=meta>" + std::to_string(bars.size()) + " nodes computed, at most " +
                     std::to_string(lane_end.size()) + " at once";
  if (cached) note += "; " + std::to_string(cached) + " from the cache (not shown)";
  return svg.str() + note + ".</p>";
}

}  // namespace

fs::path write_html_report(const fs::path& out_dir, size_t picture_budget) {
  const json report = json::parse(read_file_bytes(out_dir / "report.json"));
  const json& run = json_member(report, "run", false);
  std::string script = run.value("script", std::string());
  std::string status = run.value("status", std::string("?"));
  std::ostringstream h;
  h << html_page_head(run.value("id", std::string()) + " — pipette", "pipette run");
  h << "<h1>" << html_escape(fs::path(script).filename().string()) << " <span class='status-" << html_escape(status)
    << "'>" << html_escape(status) << "</span></h1><div class=meta>run " << html_escape(run.value("id", std::string()))
    << ", " << html_escape(run.value("started", std::string())) << " – " << html_escape(run.value("finished", std::string()))
    << "</div>";

  h << "<h2>Provenance</h2><table class=record id=provenance>";
  for (const char* key : {"script", "script_hash", "seed", "device", "executor", "pipette_version", "libtorch_version"})
    if (run.contains(key)) h << "<tr><th>" << key << "</th><td>" << html_scalar(run[key]) << "</td></tr>";
  h << "<tr><th>params</th><td>" << html_value(run.value("params", json::object()), out_dir) << "</td></tr>";
  h << "<tr><th>plugins</th><td>" << html_value(run.value("plugins", json::array()), out_dir) << "</td></tr></table>";

  h << "<h2>Reports</h2>";
  const json& reports = json_member(report, "reports", false);
  if (reports.empty()) h << "<p class=meta>none</p>";
  h << "<table class=record id=reports>";
  for (auto& [name, value] : reports.items())
    h << "<tr class=report><th>" << html_escape(name) << "</th><td>" << html_value(value, out_dir) << "</td></tr>";
  h << "</table>";
  json missing = report.value("missing_reports", json::array()), failed = report.value("report_errors", json::object());
  for (auto& name : missing) h << "<p class=meta>not reported: " << html_scalar(name) << "</p>";
  for (auto& [name, why] : failed.items())
    h << "<p class=error>report " << html_escape(name) << " " << html_scalar(why) << "</p>";

  // Pictures the run saved, in path order; the reports' tensor files aside.
  std::vector<fs::path> pictures = saved_pictures(out_dir);
  if (!pictures.empty()) {
    PicturePacker packer(out_dir, picture_budget);
    h << "<h2>Pictures</h2><div class=thumbs id=pictures>";
    for (auto& rel : pictures) h << packer.figure(out_dir, rel, rel.generic_string());
    h << "</div>";
  }

  const json& nodes = json_member(report, "nodes", true);
  struct Failure {
    std::string where, message;
  };
  std::vector<Failure> errors;
  std::vector<bool> node_lines;
  h << "<h2>Nodes</h2>" << timeline(nodes, script)
    << "<table class=sortable id=nodes><thead><tr><th>node</th><th>op</th><th>line</th><th>status</th>"
       "<th>cached</th><th>seconds</th><th>peak MiB</th></tr></thead><tbody>";
  for (auto& n : nodes) {
    std::string loc = n.value("loc", std::string());
    int line = line_of(loc, script);
    if (line > 0) {
      if (node_lines.size() <= static_cast<size_t>(line)) node_lines.resize(line + 1);
      node_lines[line] = true;
    }
    std::string st = n.value("status", std::string());
    int64_t peak = n.value("peak_bytes", int64_t(-1));
    h << "<tr class=node><td>" << html_escape(n.value("id", std::string())) << "</td><td>"
      << html_escape(n.value("op", std::string())) << "</td><td>"
      << (line > 0 ? "<a href='#L" + std::to_string(line) + "'>" + std::to_string(line) + "</a>" : html_escape(loc))
      << "</td><td class='status-" << html_escape(st) << "'>" << html_escape(st) << "</td><td>"
      << (n.value("cached", false) ? "yes" : "") << "</td><td class=num>" << html_seconds(n.value("seconds", 0.0))
      << "</td><td class=num>" << (peak >= 0 ? mib(peak) : "") << "</td></tr>";
    if (n.contains("error"))
      errors.push_back({loc, n.value("id", std::string()) + " " + n.value("op", std::string()) + ": " +
                                 n["error"].get<std::string>()});
  }
  h << "</tbody></table>";
  if (std::none_of(nodes.begin(), nodes.end(), [](const json& n) { return n.contains("peak_bytes"); }) && !nodes.empty())
    h << "<p class=meta>Peak memory is measured per node when nodes run one at a time (--jobs 1).</p>";
  // What the compiler and the ops warned of: a warning is often what says a
  // number is not what it seems (degenerate attributions, a NaN guard).
  std::vector<Failure> warnings;
  for (auto& w : json_member(report, "warnings", true))
    if (w.is_object()) warnings.push_back({w.value("loc", std::string()), w.value("message", std::string())});
  for (auto& n : nodes) {
    std::string who = n.value("id", std::string()) + " " + n.value("op", std::string()) + ": ";
    for (auto& w : json_member(n, "warnings", true))
      if (w.is_string()) warnings.push_back({n.value("loc", std::string()), who + w.get<std::string>()});
    if (n.contains("warning") && n["warning"].is_string())
      warnings.push_back({n.value("loc", std::string()), who + n["warning"].get<std::string>()});
  }
  if (!warnings.empty()) {
    h << "<h2>Warnings</h2><ul id=warnings>";
    for (auto& [loc, message] : warnings) {
      int line = line_of(loc, script);
      h << "<li class=warning>"
        << (line > 0 ? "<a href='#L" + std::to_string(line) + "'>" + html_escape(loc) + "</a>" : html_escape(loc))
        << ": " << html_escape(message) << "</li>";
    }
    h << "</ul>";
  }
  if (!errors.empty()) {
    h << "<h2>Errors</h2>";
    for (auto& [loc, message] : errors) {
      int line = line_of(loc, script);
      h << "<p>" << (line > 0 ? "<a href='#L" + std::to_string(line) + "'>" + html_escape(loc) + "</a>" : html_escape(loc))
        << "</p><div class=error>" << html_escape(message) << "</div>";
    }
  }

  std::string text;  // a script that is not there (moved, another machine) is left out
  try {
    text = read_file_bytes(script);
  } catch (const std::exception&) {
  }
  if (!text.empty()) {
    h << "<h2>Script</h2><pre class=script>";
    std::istringstream in(text);
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();  // a script with CRLF line ends
      bool has_node = static_cast<size_t>(n) < node_lines.size() && node_lines[n];
      h << "<span id=L" << n << " data-n=" << n << (has_node ? " class=node" : "") << ">" << html_escape(line) << "</span>";
    }
    h << "</pre>";
  }
  h << html_page_tail();
  write_inside(out_dir, "report.html", h.str());
  return out_dir / "report.html";
}

}  // namespace pipette
