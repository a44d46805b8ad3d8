#include "engine/resources.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace pipette {

Resources Resources::over(const Resources& base) const {
  Resources r = base;
  if (cpus) r.cpus = cpus;
  if (mem_mb) r.mem_mb = mem_mb;
  if (gpus) r.gpus = gpus;
  if (minutes) r.minutes = minutes;
  if (partition) r.partition = partition;
  return r;
}

namespace {

std::string memory_text(int64_t mib) {
  if (mib % (1024 * 1024) == 0) return std::to_string(mib / (1024 * 1024)) + "T";
  if (mib % 1024 == 0) return std::to_string(mib / 1024) + "G";
  return std::to_string(mib) + "M";
}

// A whole number >= 0 with nothing after it.
std::optional<int64_t> whole(const std::string& s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::string Resources::to_string() const {
  std::string s;
  auto add = [&](const std::string& kv) { s += (s.empty() ? "" : " ") + kv; };
  if (cpus) add("cpus=" + std::to_string(*cpus));
  if (mem_mb) add("mem=" + memory_text(*mem_mb));
  if (gpus) add("gpus=" + std::to_string(*gpus));
  if (minutes) add("time=" + slurm_time(*minutes));
  if (partition) add("partition=" + *partition);
  return s;
}

const std::vector<std::string>& resource_keys() {
  static const std::vector<std::string> keys{"cpus", "mem", "gpus", "time", "partition"};
  return keys;
}

std::optional<int64_t> parse_memory_mib(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v <= 0 || text[0] == '+' || text[0] == '-') return std::nullopt;
  std::string unit(end);
  double mib = unit.empty() || unit == "M" || unit == "MB" || unit == "MiB" ? v
               : unit == "K" || unit == "KB" || unit == "KiB"             ? v / 1024
               : unit == "G" || unit == "GB" || unit == "GiB"             ? v * 1024
               : unit == "T" || unit == "TB" || unit == "TiB"             ? v * 1024 * 1024
                                                                          : -1;
  if (mib < 0 || mib > 1024.0 * 1024 * 1024) return std::nullopt;  // more than a pebibyte
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(mib)));
}

std::optional<int64_t> parse_minutes(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char last = text.back();
  if (last == 's' || last == 'm' || last == 'h' || last == 'd') {
    auto n = whole(text.substr(0, text.size() - 1));
    if (!n || *n == 0) return std::nullopt;
    int64_t seconds = *n * (last == 's' ? 1 : last == 'm' ? 60 : last == 'h' ? 3600 : 86400);
    return (seconds + 59) / 60;
  }
  // Slurm's forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
  int64_t days = 0;
  std::string rest = text;
  bool has_days = false;
  if (auto dash = text.find('-'); dash != std::string::npos) {
    auto d = whole(text.substr(0, dash));
    if (!d) return std::nullopt;
    days = *d;
    rest = text.substr(dash + 1);
    has_days = true;
  }
  std::vector<int64_t> parts;
  size_t at = 0;
  for (;;) {
    size_t colon = rest.find(':', at);
    auto p = whole(rest.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
    if (!p) return std::nullopt;
    parts.push_back(*p);
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  if (parts.size() > 3) return std::nullopt;
  int64_t seconds = 0;
  if (has_days) {  // D-HH[:MM[:SS]]
    seconds = days * 86400 + parts[0] * 3600 + (parts.size() > 1 ? parts[1] * 60 : 0) + (parts.size() > 2 ? parts[2] : 0);
  } else if (parts.size() == 1) {  // MM
    seconds = parts[0] * 60;
  } else if (parts.size() == 2) {  // MM:SS
    seconds = parts[0] * 60 + parts[1];
  } else {  // HH:MM:SS
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  if (seconds <= 0) return std::nullopt;
  return (seconds + 59) / 60;
}

std::string slurm_time(int64_t minutes) {
  char buf[48];
  int64_t d = minutes / 1440, h = minutes % 1440 / 60, m = minutes % 60;
  if (d > 0) std::snprintf(buf, sizeof buf, "%lld-%02lld:%02lld:00", static_cast<long long>(d), static_cast<long long>(h),
                           static_cast<long long>(m));
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld:00", static_cast<long long>(h), static_cast<long long>(m));
  return buf;
}

std::optional<std::string> set_resource(Resources& r, const std::string& key, const std::string& value) {
  if (key == "cpus" || key == "gpus") {
    auto n = whole(value);
    if (!n || (key == "cpus" && *n == 0) || *n > 4096)
      return key + " expects a whole number" + (key == "cpus" ? " from 1" : " from 0") + " to 4096, got '" + value + "'";
    (key == "cpus" ? r.cpus : r.gpus) = *n;
    return std::nullopt;
  }
  if (key == "mem") {
    auto m = parse_memory_mib(value);
    if (!m) return "mem expects a size such as 512M or 16G, got '" + value + "'";
    r.mem_mb = *m;
    return std::nullopt;
  }
  if (key == "time") {
    auto m = parse_minutes(value);
    if (!m) return "time expects a duration such as 30m, 2h, 1d, 1:30:00 or 2-12:00:00, got '" + value + "'";
    r.minutes = *m;
    return std::nullopt;
  }
  if (key == "partition") {
    bool ok = !value.empty() && value.size() <= 64;
    for (char c : value) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    if (!ok) return "partition expects a partition's name (letters, digits, _ - .), got '" + value + "'";
    r.partition = value;
    return std::nullopt;
  }
  std::string keys;
  for (auto& k : resource_keys()) keys += (keys.empty() ? "" : ", ") + k;
  return "no resource is called '" + key + "'; a request names " + keys;
}

}  // namespace pipette
