#include "engine/html_report.hpp"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/atomic_file.hpp"
#include "engine/value_io.hpp"

namespace pipette {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
          static const char* hex = "0123456789abcdef";
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

namespace {

std::string base64(const std::string& bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// A tensor's shape, dtype, statistics over its finite values, and a histogram.
std::string tensor_card(const json& ref, const fs::path& out_dir) {
  std::string shape = ref.contains("shape") ? ref["shape"].dump() : "?";
  std::string html = "<div class=tensor><span class=meta>tensor " + html_escape(shape) + " " +
                     html_escape(ref.value("dtype", std::string("?"))) + "</span>";
  std::string file = ref.value("file", std::string());
  at::Tensor t;
  try {
    Value v = read_pt_file(out_dir / file);
    if (v.isTensor()) t = v.toTensor();
  } catch (const std::exception&) {
  }
  if (t.defined() && t.numel() > 0 && !t.is_complex()) {
    at::Tensor x = t.detach().to(at::kCPU, at::kDouble).flatten();
    at::Tensor finite = x.isfinite();
    int64_t n = x.numel(), ok = finite.sum().item<int64_t>();
    at::Tensor f = x.masked_select(finite);
    html += "<table class=stats><tr><th>min</th><th>max</th><th>mean</th><th>std</th><th>non-finite</th></tr><tr>";
    if (ok > 0) {
      double lo = f.min().item<double>(), hi = f.max().item<double>();
      html += "<td>" + number(lo) + "</td><td>" + number(hi) + "</td><td>" + number(f.mean().item<double>()) +
              "</td><td>" + number(ok > 1 ? f.std().item<double>() : 0.0) + "</td>";
      html += "<td>" + std::to_string(n - ok) + "</td></tr></table>";
      // 24 bins over [min, max]: drawn here, numbers only.
      const int bins = 24;
      at::Tensor h = hi > lo ? at::histc(f, bins, lo, hi) : at::full({bins}, 0.0, f.options()).index_put_({0}, double(ok));
      double top = std::max(1.0, h.max().item<double>());
      std::string svg = "<svg class=hist viewBox='0 0 240 60' width=240 height=60 role=img><title>histogram of " +
                        std::to_string(ok) + " finite values</title>";
      for (int b = 0; b < bins; ++b) {
        double height = 56.0 * h[b].item<double>() / top;
        svg += "<rect x='" + std::to_string(b * 10) + "' y='" + number(58 - height) + "' width='9' height='" +
               number(height) + "'/>";
      }
      html += svg + "</svg>";
    } else {
      html += "<td colspan=4>no finite values</td><td>" + std::to_string(n) + "</td></tr></table>";
    }
  }
  if (!file.empty()) html += "<div class=file>" + html_escape(file) + "</div>";
  return html + "</div>";
}

bool is_tensor_ref(const json& j) { return j.is_object() && j.contains("file") && j.contains("shape"); }

// A record of equal-length columns (what tabulate and metrics' tables give).
bool is_table(const json& j) {
  if (!j.is_object() || j.empty()) return false;
  size_t rows = 0;
  for (auto& [k, v] : j.items()) {
    if (!v.is_array() || v.empty()) return false;
    if (rows && v.size() != rows) return false;
    rows = v.size();
    for (auto& cell : v)
      if (cell.is_object() || cell.is_array()) return false;
  }
  return true;
}

std::string scalar(const json& j) {
  if (j.is_string()) return html_escape(j.get<std::string>());
  if (j.is_number_float()) return number(j.get<double>());
  return html_escape(j.dump());
}

std::string render(const json& j, const fs::path& out_dir, int depth) {
  if (is_tensor_ref(j)) return tensor_card(j, out_dir);
  if (is_table(j)) {
    std::string html = "<table class=sortable><thead><tr>";
    for (auto& [k, v] : j.items()) html += "<th>" + html_escape(k) + "</th>";
    html += "</tr></thead><tbody>";
    size_t rows = j.begin()->size();
    for (size_t r = 0; r < rows; ++r) {
      html += "<tr>";
      for (auto& [k, v] : j.items()) html += "<td>" + scalar(v[r]) + "</td>";
      html += "</tr>";
    }
    return html + "</tbody></table>";
  }
  if (j.is_object()) {
    if (depth > 8) return "<span class=meta>(nested deeper)</span>";
    std::string html = "<table class=record>";
    for (auto& [k, v] : j.items()) html += "<tr><th>" + html_escape(k) + "</th><td>" + render(v, out_dir, depth + 1) + "</td></tr>";
    return html + "</table>";
  }
  if (j.is_array()) {
    bool flat = std::all_of(j.begin(), j.end(), [](const json& e) { return !e.is_object() && !e.is_array(); });
    if (flat && j.size() <= 64) {
      std::string html = "[";
      for (size_t i = 0; i < j.size(); ++i) html += (i ? ", " : "") + scalar(j[i]);
      return html + "]";
    }
    std::string html = "<ol class=list>";
    size_t shown = std::min<size_t>(j.size(), 64);
    for (size_t i = 0; i < shown; ++i) html += "<li>" + render(j[i], out_dir, depth + 1) + "</li>";
    if (shown < j.size()) html += "<li class=meta>… " + std::to_string(j.size() - shown) + " more</li>";
    return html + "</ol>";
  }
  return "<span class=value>" + scalar(j) + "</span>";
}

// "file:12:3" -> 12 when `file` is the script.
int line_of(const std::string& loc, const std::string& script) {
  if (loc.rfind(script + ":", 0) != 0) return 0;
  try {
    return std::stoi(loc.substr(script.size() + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;border-bottom:1px solid #ddd;padding-bottom:2px;margin-top:28px}
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}table.sortable th{cursor:pointer}.meta,.file{color:#777;font-size:12px}
.status-ok,.status-done{color:#1a7f37}.status-failed{color:#cf222e}.status-interrupted,.status-cancelled,.status-skipped{color:#9a6700}
.hist rect{fill:#4c78a8}.thumbs{display:flex;flex-wrap:wrap;gap:10px}.thumbs figure{margin:0;text-align:center}
.thumbs img{max-width:160px;max-height:160px;cursor:zoom-in;image-rendering:pixelated;border:1px solid #ddd}
#overlay{display:none;position:fixed;inset:0;background:rgba(0,0,0,.8);align-items:center;justify-content:center}
#overlay img{max-width:95vw;max-height:95vh;image-rendering:pixelated;background:#fff}
pre.script{background:#fafafa;border:1px solid #ddd;padding:6px 0;overflow-x:auto}
pre.script span{display:block;padding:0 8px}pre.script span.node{background:#fff8c5}
pre.script span:target{background:#ffd8a8}pre.script span::before{content:attr(data-n);display:inline-block;width:3em;color:#999}
.error{color:#cf222e;white-space:pre-wrap;font-family:monospace}
)";

// Sorting tables and enlarging pictures; reads the DOM only, holds no run data.
const char* kScript = R"(
document.querySelectorAll('table.sortable th').forEach(function(th,col){th.addEventListener('click',function(){
var body=th.closest('table').tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(a,b){var x=a.cells[col].textContent,y=b.cells[col].textContent,p=parseFloat(x),q=parseFloat(y);
var c=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);return asc?c:-c;});rows.forEach(function(r){body.appendChild(r);});});});
var ov=document.getElementById('overlay');document.querySelectorAll('.thumbs img').forEach(function(im){im.addEventListener('click',function(){
ov.firstElementChild.src=im.src;ov.style.display='flex';});});ov.addEventListener('click',function(){ov.style.display='none';});
)";

}  // namespace

fs::path write_html_report(const fs::path& out_dir, size_t embed_limit) {
  json report = json::parse(read_all(out_dir / "report.json"));
  const json& run = report["run"];
  std::string script = run.value("script", std::string());
  std::string status = run.value("status", std::string("?"));
  std::ostringstream h;
  h << "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>" << html_escape(run.value("id", std::string()))
    << " — pipette</title><style>" << kStyle << "</style></head><body>";
  h << "<h1>" << html_escape(fs::path(script).filename().string()) << " <span class='status-" << html_escape(status)
    << "'>" << html_escape(status) << "</span></h1><div class=meta>run " << html_escape(run.value("id", std::string()))
    << ", " << html_escape(run.value("started", std::string())) << " – " << html_escape(run.value("finished", std::string()))
    << "</div>";

  h << "<h2>Provenance</h2><table class=record>";
  for (const char* key : {"script", "script_hash", "seed", "device", "executor", "pipette_version", "libtorch_version"})
    if (run.contains(key)) h << "<tr><th>" << key << "</th><td>" << scalar(run[key]) << "</td></tr>";
  h << "<tr><th>params</th><td>" << render(run.value("params", json::object()), out_dir, 1) << "</td></tr>";
  h << "<tr><th>plugins</th><td>" << render(run.value("plugins", json::array()), out_dir, 1) << "</td></tr></table>";

  h << "<h2>Reports</h2>";
  const json& reports = report["reports"];
  if (reports.empty()) h << "<p class=meta>none</p>";
  h << "<table class=record id=reports>";
  for (auto& [name, value] : reports.items())
    h << "<tr class=report><th>" << html_escape(name) << "</th><td>" << render(value, out_dir, 1) << "</td></tr>";
  h << "</table>";
  json missing = report.value("missing_reports", json::array()), failed = report.value("report_errors", json::object());
  for (auto& name : missing) h << "<p class=meta>not reported: " << scalar(name) << "</p>";
  for (auto& [name, why] : failed.items())
    h << "<p class=error>report " << html_escape(name) << " " << scalar(why) << "</p>";

  // Pictures the run saved, in path order; the reports' tensor files aside.
  std::vector<fs::path> pictures;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    fs::path rel = fs::relative(it->path(), out_dir, ec);
    if (rel.empty() || *rel.begin() == "reports" || rel.filename().string().rfind('.', 0) == 0) continue;
    std::string ext = rel.extension().string();
    if (it->is_regular_file(ec) && (ext == ".png" || ext == ".svg")) pictures.push_back(rel);
  }
  std::sort(pictures.begin(), pictures.end());
  if (!pictures.empty()) {
    h << "<h2>Pictures</h2><div class=thumbs>";
    for (auto& rel : pictures) {
      std::string caption = html_escape(rel.generic_string());
      uintmax_t size = fs::file_size(out_dir / rel, ec);
      if (ec || size > embed_limit) {
        h << "<figure><a href='" << caption << "'>" << caption << "</a><figcaption class=meta>"
          << (ec ? 0 : size / 1024) << " KiB, linked</figcaption></figure>";
        continue;
      }
      const char* mime = rel.extension() == ".png" ? "image/png" : "image/svg+xml";
      h << "<figure><img alt='" << caption << "' src='data:" << mime << ";base64," << base64(read_all(out_dir / rel))
        << "'><figcaption class=meta>" << caption << "</figcaption></figure>";
    }
    h << "</div>";
  }

  const json& nodes = report["nodes"];
  std::vector<std::pair<std::string, std::string>> errors;
  std::vector<bool> node_lines;
  h << "<h2>Nodes</h2><table class=sortable id=nodes><thead><tr><th>node</th><th>op</th><th>line</th><th>status</th>"
       "<th>cached</th><th>seconds</th></tr></thead><tbody>";
  for (auto& n : nodes) {
    std::string loc = n.value("loc", std::string());
    int line = line_of(loc, script);
    if (line > 0) {
      if (node_lines.size() <= static_cast<size_t>(line)) node_lines.resize(line + 1);
      node_lines[line] = true;
    }
    std::string st = n.value("status", std::string());
    h << "<tr class=node><td>" << html_escape(n.value("id", std::string())) << "</td><td>"
      << html_escape(n.value("op", std::string())) << "</td><td>"
      << (line > 0 ? "<a href='#L" + std::to_string(line) + "'>" + std::to_string(line) + "</a>" : html_escape(loc))
      << "</td><td class='status-" << html_escape(st) << "'>" << html_escape(st) << "</td><td>"
      << (n.value("cached", false) ? "yes" : "") << "</td><td>" << number(n.value("seconds", 0.0)) << "</td></tr>";
    if (n.contains("error")) errors.emplace_back(loc, n["error"].get<std::string>());
  }
  h << "</tbody></table>";
  if (!errors.empty()) {
    h << "<h2>Errors</h2>";
    for (auto& [loc, message] : errors) {
      int line = line_of(loc, script);
      h << "<p><a href='#L" << line << "'>" << html_escape(loc) << "</a></p><div class=error>" << html_escape(message)
        << "</div>";
    }
  }

  std::string text = read_all(script);
  if (!text.empty()) {
    h << "<h2>Script</h2><pre class=script>";
    std::istringstream in(text);
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      bool has_node = static_cast<size_t>(n) < node_lines.size() && node_lines[n];
      h << "<span id=L" << n << " data-n=" << n << (has_node ? " class=node" : "") << ">" << html_escape(line) << "</span>";
    }
    h << "</pre>";
  }
  h << "<div id=overlay><img alt=''></div><script>" << kScript << "</script></body></html>\n";
  write_inside(out_dir, "report.html", h.str());
  return out_dir / "report.html";
}

}  // namespace pipette
