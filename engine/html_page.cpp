#include "engine/html_page.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/image_decode.hpp"
#include "engine/png_thumbnail.hpp"
#include "engine/report_diff.hpp"
#include "engine/op_impl.hpp"
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
          // Unicode's pictures of control characters (U+2400 + c, U+2421 for
          // DEL): visible, and not to be mistaken for text the run wrote.
          out += "\xe2\x90";
          out += static_cast<char>(c == 0x7f ? 0xa1 : 0x80 + c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string html_number(double v) {
  if (std::isnan(v)) return "NaN";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

std::string html_seconds(double seconds) {
  std::ostringstream s;
  s.precision(3);
  s << seconds;
  return s.str();
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


// width/height for a picture of w x h in a box of `side`: larger ones scaled
// down to fit, small ones (an 8 x 8 map) up by a whole factor, drawn pixelated.
std::string display_size(int w, int h, int side) {
  if (w <= 0 || h <= 0) return "";
  double scale = std::min(static_cast<double>(side) / w, static_cast<double>(side) / h);
  if (scale > 1) scale = std::floor(scale);
  return " width=" + std::to_string(std::max(1L, std::lround(w * scale))) +
         " height=" + std::to_string(std::max(1L, std::lround(h * scale)));
}

// A tensor's shape, dtype, statistics over its finite values, and a histogram.
// `ref` is a report tensor file (is_report_tensor_file): below the run's reports/.
std::string tensor_card(const json& ref, const fs::path& out_dir) {
  std::string file = ref["file"].get<std::string>();
  std::string html = "<div class=tensor><span class=meta>tensor " + html_escape(ref["shape"].dump()) + " " +
                     html_escape(ref["dtype"].get<std::string>()) + "</span>";
  try {
    Value v = read_pt_file(out_dir / file);
    at::Tensor t = v.isTensor() ? v.toTensor() : at::Tensor();
    if (!t.defined() || t.numel() == 0 || t.is_complex()) throw std::runtime_error("no real values");
    at::Tensor x = t.detach().to(at::kCPU, at::kDouble).flatten();
    at::Tensor finite = x.isfinite();
    int64_t n = x.numel(), ok = finite.sum().item<int64_t>();
    at::Tensor f = x.masked_select(finite);
    std::string stats =
        "<table class=stats><tr><th>min</th><th>max</th><th>mean</th><th>std</th><th>non-finite</th></tr><tr>";
    if (ok > 0) {
      double lo = f.min().item<double>(), hi = f.max().item<double>();
      stats += "<td>" + html_number(lo) + "</td><td>" + html_number(hi) + "</td><td>" +
               html_number(f.mean().item<double>()) + "</td><td>" + html_number(ok > 1 ? f.std().item<double>() : 0.0) +
               "</td><td>" + std::to_string(n - ok) + "</td></tr></table>";
      // 24 bins over [min, max], drawn here; not when the range itself overflows.
      const int bins = 24;
      if (std::isfinite(hi - lo)) {
        at::Tensor h =
            hi > lo ? at::histc(f, bins, lo, hi) : at::full({bins}, 0.0, f.options()).index_put_({0}, double(ok));
        double top = std::max(1.0, h.max().item<double>());
        stats += "<svg class=hist viewBox='0 0 240 60' width=240 height=60 role=img><title>histogram of " +
                 std::to_string(ok) + " finite values in [" + html_number(lo) + ", " + html_number(hi) + "]</title>";
        for (int b = 0; b < bins; ++b) {
          double height = 56.0 * h[b].item<double>() / top;
          stats += "<rect x='" + std::to_string(b * 10) + "' y='" + html_number(58 - height) + "' width='9' height='" +
                   html_number(height) + "'/>";
        }
        stats += "</svg>";
      }
    } else {
      stats += "<td colspan=4>no finite values</td><td>" + std::to_string(n) + "</td></tr></table>";
    }
    html += stats;
  } catch (const std::exception& e) {
    html += " <span class=meta>(its file cannot be shown: " + html_escape(excerpt(e.what(), 200)) + ")</span>";
  }
  return html + "<div class=file>" + html_escape(file) + "</div></div>";
}

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


std::string render(const json& j, const fs::path& out_dir, int depth) {
  if (is_report_tensor_file(j)) return tensor_card(j, out_dir);
  if (is_table(j)) {
    std::string html = "<table class=sortable><thead><tr>";
    for (auto& [k, v] : j.items()) html += "<th>" + html_escape(k) + "</th>";
    html += "</tr></thead><tbody>";
    size_t rows = j.begin()->size();
    for (size_t r = 0; r < rows; ++r) {
      html += "<tr>";
      for (auto& [k, v] : j.items()) html += "<td>" + html_scalar(v[r]) + "</td>";
      html += "</tr>";
    }
    return html + "</tbody></table>";
  }
  if ((j.is_object() || j.is_array()) && j.empty()) return "<span class=meta>none</span>";
  if (j.is_object()) {
    if (depth > 8) return "<span class=meta>(nested deeper)</span>";
    std::string html = "<table class=record>";
    for (auto& [k, v] : j.items())
      html += "<tr><th>" + html_escape(k) + "</th><td>" + render(v, out_dir, depth + 1) + "</td></tr>";
    return html + "</table>";
  }
  if (j.is_array()) {
    bool flat = std::all_of(j.begin(), j.end(), [](const json& e) { return !e.is_object() && !e.is_array(); });
    if (flat && j.size() <= 64) {
      std::string html = "[";
      for (size_t i = 0; i < j.size(); ++i) html += (i ? ", " : "") + html_scalar(j[i]);
      return html + "]";
    }
    std::string html = "<ol class=list>";
    size_t shown = std::min<size_t>(j.size(), 64);
    for (size_t i = 0; i < shown; ++i) html += "<li>" + render(j[i], out_dir, depth + 1) + "</li>";
    if (shown < j.size()) html += "<li class=meta>… " + std::to_string(j.size() - shown) + " more</li>";
    return html + "</ol>";
  }
  return "<span class=value>" + html_scalar(j) + "</span>";
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;border-bottom:1px solid #ddd;padding-bottom:2px;margin-top:28px}
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}table.sortable th{cursor:pointer}table.sortable th.sorts::after{content:' \2195';color:#aaa}
.meta,.file{color:#777;font-size:12px}.num{text-align:right;font-variant-numeric:tabular-nums}
.status-ok,.status-done{color:#1a7f37}.status-failed{color:#cf222e}.status-interrupted,.status-cancelled,.status-skipped{color:#9a6700}
.up{color:#cf222e}.down{color:#1a7f37}.delta{color:#0550ae}.same{color:#999}
.hist rect{fill:#4c78a8}.thumbs{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;text-align:center}
figure img{max-width:160px;max-height:160px;cursor:zoom-in;image-rendering:pixelated;border:1px solid #ddd}
#overlay{display:none;position:fixed;inset:0;background:rgba(0,0,0,.8);align-items:center;justify-content:center}
#overlay img{max-width:95vw;max-height:95vh;image-rendering:pixelated;background:#fff}
.timeline rect.bar{fill:#4c78a8}.timeline rect.bar.failed{fill:#cf222e}.timeline text{font-size:11px;fill:#555}
pre.script{background:#fafafa;border:1px solid #ddd;padding:6px 0;overflow-x:auto}
pre.script span{display:block;padding:0 8px}pre.script span.node{background:#fff8c5}
pre.script span:target{background:#ffd8a8}pre.script span::before{content:attr(data-n);display:inline-block;width:3em;color:#999}
.error{color:#cf222e;white-space:pre-wrap;font-family:monospace}
)";

// Sorting tables and enlarging pictures; reads the DOM only, holds no run data.
const char* kScript = R"(
document.querySelectorAll('table.sortable').forEach(function(table){
var head=table.tHead?table.tHead.rows[0]:null;if(!head)return;
Array.prototype.forEach.call(head.cells,function(th,col){th.classList.add('sorts');th.addEventListener('click',function(){
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(a,b){var x=a.cells[col].textContent,y=b.cells[col].textContent,p=parseFloat(x),q=parseFloat(y);
var c=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);return asc?c:-c;});rows.forEach(function(r){body.appendChild(r);});});});});
var ov=document.getElementById('overlay');document.querySelectorAll('figure img').forEach(function(im){im.addEventListener('click',function(){
ov.firstElementChild.onerror=function(){ov.firstElementChild.onerror=null;ov.firstElementChild.src=im.src;};
ov.firstElementChild.src=im.dataset.full||im.src;ov.style.display='flex';});});
ov.addEventListener('click',function(){ov.style.display='none';});
)";

}  // namespace

std::string html_page_head(const std::string& title, const std::string& generator) {
  return "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=generator content='" +
         html_escape(generator) + "'><title>" + html_escape(title) + "</title><style>" + kStyle +
         "</style></head><body>";
}

std::string html_page_tail() {
  return std::string("<div id=overlay><img alt=''></div><script>") + kScript + "</script></body></html>\n";
}

const json& json_member(const json& j, const char* key, bool array) {
  static const json empty_object = json::object(), empty_array = json::array();
  if (j.is_object() && j.contains(key)) return j[key];
  return array ? empty_array : empty_object;
}

std::string html_scalar(const json& j) {
  if (j.is_string()) return html_escape(j.get<std::string>());
  if (j.is_number_float()) return html_number(j.get<double>());
  return html_escape(j.dump());
}

std::string html_value(const json& value, const fs::path& out_dir) {
  try {
    return render(value, out_dir, 1);
  } catch (const std::exception& e) {  // one value that cannot be drawn does not lose the page
    return "<span class=meta>(cannot be shown: " + html_escape(excerpt(e.what(), 200)) + ")</span>";
  }
}

std::vector<fs::path> saved_pictures(const fs::path& out_dir) {
  std::vector<fs::path> pictures;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(out_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    fs::path rel = fs::relative(it->path(), out_dir, ec);
    if (rel.empty() || *rel.begin() == "reports" || rel.filename().string().rfind('.', 0) == 0) continue;
    std::string ext = rel.extension().string();
    // A symbolic link is not a picture the run saved (it could point anywhere).
    if (it->symlink_status(ec).type() == fs::file_type::regular && (ext == ".png" || ext == ".svg"))
      pictures.push_back(rel);
  }
  std::sort(pictures.begin(), pictures.end());
  return pictures;
}

PicturePacker::PicturePacker(fs::path page_dir, size_t budget, size_t full_limit, int thumb_side)
    : page_dir_(std::move(page_dir)), budget_(budget), full_limit_(full_limit), thumb_side_(thumb_side) {}

// A link from the page to a file: "./" and the path relative to the page
// where there is one (the page moves with its run directory), else file://
// and the absolute path; every byte but letters, digits and "-._~/"
// percent-encoded, so no name reads as a scheme ("javascript:"), a query or
// a fragment.
std::string PicturePacker::href(const fs::path& file) const {
  std::error_code ec;
  fs::path rel = fs::relative(file, page_dir_, ec);
  bool relative = !ec && !rel.empty();
  std::string s = (relative ? rel : fs::absolute(file, ec)).generic_string();
  std::string url = relative ? "./" : "file://";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      url += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789ABCDEF";
      url += '%';
      url += hex[c >> 4];
      url += hex[c & 15];
    }
  }
  return url;
}

std::string PicturePacker::figure(const fs::path& out_dir, const fs::path& rel, const std::string& caption) {
  fs::path file = out_dir / rel;
  std::string text = html_escape(caption);
  std::error_code ec;
  auto status = fs::symlink_status(file, ec);
  if (ec || status.type() != fs::file_type::regular)
    return "<figure class=missing><span class=meta>not there</span><figcaption class=meta>" + text + "</figcaption></figure>";
  uintmax_t size = fs::file_size(file, ec);
  auto linked = [&](const std::string& why) {
    return "<figure class=linked><a href='" + href(file) + "'>" + text + "</a><figcaption class=meta>" +
           std::to_string((ec ? 0 : size) / 1024) + " KiB, linked (" + why + ")</figcaption></figure>";
  };
  // Read only what could be shown: a PNG to thumbnail (at most 64 MiB), an SVG that fits.
  bool png = rel.extension() == ".png";
  if (ec || size > (png ? uint64_t{64} << 20 : budget_)) return linked("too large to show here");
  std::string bytes = read_file_bytes(file);
  const char* mime = png ? "image/png" : "image/svg+xml";
  std::optional<ImageInfo> info;
  if (png && !(info = image_info(bytes))) return linked("not a PNG that decodes");
  // A browser would decode it in full too.
  if (info && int64_t{info->width} * info->height > (int64_t{16} << 20)) return linked("over 16 megapixels");
  std::string thumb = bytes;
  const char* thumb_mime = mime;
  if (png)
    if (auto small = png_thumbnail(bytes, thumb_side_)) thumb = std::move(small->bytes), thumb_mime = small->mime;
  std::string thumb_uri = "data:" + std::string(thumb_mime) + ";base64," + base64(thumb);
  if (embedded_ + thumb_uri.size() > budget_)
    return linked("the page holds " + std::to_string(budget_ >> 20) + " MiB of pictures");
  embedded_ += thumb_uri.size();
  std::string full;  // what a click shows; none: the thumbnail is the picture
  if (thumb != bytes) {
    std::string full_uri = "data:" + std::string(mime) + ";base64," + base64(bytes);
    if (bytes.size() <= full_limit_ && embedded_ + full_uri.size() <= budget_) {
      embedded_ += full_uri.size();
      full = std::move(full_uri);
    } else {
      full = href(file);
    }
  }
  return "<figure><img alt='" + text + "' src='" + thumb_uri + "'" + (full.empty() ? "" : " data-full='" + full + "'") +
         (info ? display_size(info->width, info->height, thumb_side_) : "") + "><figcaption class=meta>" + text +
         "</figcaption></figure>";
}

}  // namespace pipette
