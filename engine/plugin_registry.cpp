#include "engine/plugin_registry.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "engine/file_hash.hpp"
#include "engine/signature_xml.hpp"
#include "engine/subprocess.hpp"

namespace pipette {

namespace fs = std::filesystem;

const char* plugin_status_name(PluginRecord::Status s) {
  switch (s) {
    case PluginRecord::Status::Ok: return "ok";
    case PluginRecord::Status::Failed: return "failed";
    case PluginRecord::Status::Crashed: return "crashed";
    case PluginRecord::Status::Hung: return "hung";
  }
  return "?";
}

namespace {

std::optional<PluginRecord::Status> status_from_name(const std::string& s) {
  for (auto st : {PluginRecord::Status::Ok, PluginRecord::Status::Failed, PluginRecord::Status::Crashed,
                  PluginRecord::Status::Hung})
    if (s == plugin_status_name(st)) return st;
  return std::nullopt;
}

void split_into(const std::string& list, std::vector<fs::path>& out) {
  std::stringstream ss(list);
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty()) out.emplace_back(dir);
}

struct FileIdentity {
  uint64_t size = 0, device = 0, inode = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
};

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.size = static_cast<uint64_t>(st.st_size);
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return id;
}

bool matches(const PluginRecord& r, const FileIdentity& id) {
  return r.size == id.size && r.mtime_ns == id.mtime_ns && r.device == id.device && r.inode == id.inode &&
         r.ctime_ns == id.ctime_ns;
}

void set_identity(PluginRecord& r, const FileIdentity& id) {
  r.size = id.size;
  r.mtime_ns = id.mtime_ns;
  r.device = id.device;
  r.inode = id.inode;
  r.ctime_ns = id.ctime_ns;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

std::optional<std::string> unsafe_plugin_location(const fs::path& path, bool is_search_dir) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) return "it cannot be resolved (" + ec.message() + ")";
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) return "it cannot be read";
  std::string shown = real == path ? path.string() : path.string() + " (" + real.string() + ")";
  if (st.st_mode & S_IWOTH)
    return shown + (S_ISDIR(st.st_mode) ? " is a world-writable directory" : " is world-writable");
  if (is_search_dir && !S_ISDIR(st.st_mode)) return shown + " is not a directory";
  // Every directory above: anyone who may rename one of them may replace what is below.
  for (fs::path dir = real.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
      return shown + " lies in " + dir.string() + ", which anyone may write to (world-writable, no sticky bit)";
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

bool same_file_as_scanned(const PluginRecord& rec, const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 && matches(rec, identity_of(st));
}

std::vector<fs::path> plugin_search_dirs(const std::vector<std::string>& explicit_dirs, const fs::path& installed_dir) {
  std::vector<fs::path> dirs;
  for (auto& d : explicit_dirs) split_into(d, dirs);
  if (const char* env = std::getenv("PIPETTE_PLUGIN_PATH")) split_into(env, dirs);
  if (!installed_dir.empty()) dirs.push_back(installed_dir);
  return dirs;
}

fs::path default_registry_file() {
  if (const char* r = std::getenv("PIPETTE_REGISTRY"); r && *r) return r;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "pipette" / "registry.xml";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "pipette" / "registry.xml";
  return {};
}

PluginRegistry::PluginRegistry(fs::path cache_file, std::string fingerprint, PluginScanner scanner)
    : cache_file_(std::move(cache_file)), fingerprint_(std::move(fingerprint)), scanner_(std::move(scanner)) {
  load_cache();
}

void read_scan_output(const std::string& xml, PluginRecord& rec) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) throw std::runtime_error("the scanner's output is not XML");
  auto p = doc.child("plugin");
  if (!p) throw std::runtime_error("the scanner's output has no <plugin>");
  rec.name = p.attribute("name").value();
  rec.version = p.attribute("version").value();
  rec.description = p.attribute("description").value();
  rec.ops.clear();
  for (auto op : p.children("op")) rec.ops.push_back(read_signature_xml(op));
}

void PluginRegistry::load_cache() {
  if (cache_file_.empty()) return;
  pugi::xml_document doc;
  if (!doc.load_file(cache_file_.c_str())) return;  // missing or damaged: rebuilt from scratch
  auto root = doc.child("pipette-registry");
  if (!root || root.attribute("fingerprint").value() != fingerprint_) return;
  for (auto p : root.children("plugin")) {
    try {
      PluginRecord rec;
      rec.file = p.attribute("file").value();
      rec.size = p.attribute("size").as_ullong();
      rec.mtime_ns = p.attribute("mtime-ns").as_llong();
      rec.device = p.attribute("device").as_ullong();
      rec.inode = p.attribute("inode").as_ullong();
      rec.ctime_ns = p.attribute("ctime-ns").as_llong();
      rec.hash = std::strtoull(p.attribute("hash").value(), nullptr, 16);
      auto st = status_from_name(p.attribute("status").value());
      if (!st) continue;
      rec.status = *st;
      rec.reason = p.attribute("reason").value();
      rec.name = p.attribute("name").value();
      rec.version = p.attribute("version").value();
      rec.description = p.attribute("description").value();
      for (auto op : p.children("op")) rec.ops.push_back(read_signature_xml(op));
      known_[rec.file.string()] = std::move(rec);
    } catch (const std::exception&) {
      // one damaged record: that plugin is simply scanned again
    }
  }
}

void PluginRegistry::save_cache() const {
  if (cache_file_.empty()) return;
  pugi::xml_document doc;
  auto root = doc.append_child("pipette-registry");
  root.append_attribute("version") = 1;
  root.append_attribute("fingerprint") = fingerprint_.c_str();
  for (auto& [path, rec] : known_) {
    auto p = root.append_child("plugin");
    p.append_attribute("file") = path.c_str();
    p.append_attribute("size") = static_cast<unsigned long long>(rec.size);
    p.append_attribute("mtime-ns") = static_cast<long long>(rec.mtime_ns);
    p.append_attribute("device") = static_cast<unsigned long long>(rec.device);
    p.append_attribute("inode") = static_cast<unsigned long long>(rec.inode);
    p.append_attribute("ctime-ns") = static_cast<long long>(rec.ctime_ns);
    p.append_attribute("hash") = fmt::format("{:016x}", rec.hash).c_str();
    p.append_attribute("status") = plugin_status_name(rec.status);
    if (!rec.reason.empty()) p.append_attribute("reason") = rec.reason.c_str();
    p.append_attribute("name") = rec.name.c_str();
    p.append_attribute("version") = rec.version.c_str();
    p.append_attribute("description") = rec.description.c_str();
    for (auto& sig : rec.ops) write_signature_xml(sig, p);
  }
  // Write-then-rename: another pipette reading the cache never sees half of it.
  std::error_code ec;
  fs::create_directories(cache_file_.parent_path(), ec);
  fs::path tmp = cache_file_;
  tmp += fmt::format(".tmp{}", ::getpid());
  if (doc.save_file(tmp.c_str(), "  ")) fs::rename(tmp, cache_file_, ec);
  if (ec) fs::remove(tmp, ec);
}

PluginRecord PluginRegistry::scan(const fs::path& file) const {
  PluginRecord rec;
  rec.file = file;
  std::vector<std::string> argv = scanner_.command;
  argv.push_back(file.string());
  ChildResult r = run_child(argv, scanner_.timeout_s);
  switch (r.end) {
    case ChildResult::End::SpawnFailed:
      rec.status = PluginRecord::Status::Failed;
      rec.reason = "the plugin scanner could not start: " + r.err;
      break;
    case ChildResult::End::TimedOut:
      rec.status = PluginRecord::Status::Hung;
      rec.reason = fmt::format("still loading after {:g} s; the scanner was killed", scanner_.timeout_s);
      break;
    case ChildResult::End::Signalled:
      rec.status = PluginRecord::Status::Crashed;
      rec.reason = fmt::format("crashed while loading (signal {}: {})", r.code, ::strsignal(r.code));
      break;
    case ChildResult::End::Exited:
      if (r.code != 0) {
        rec.status = PluginRecord::Status::Failed;
        rec.reason = trim(r.err).empty() ? fmt::format("the scanner exited with status {}", r.code) : trim(r.err);
        break;
      }
      try {
        read_scan_output(r.out, rec);
      } catch (const std::exception& e) {
        rec.status = PluginRecord::Status::Failed;
        rec.reason = e.what();
      }
      break;
  }
  return rec;
}

void PluginRegistry::update(const std::vector<fs::path>& dirs) {
  visible_.clear();
  warnings_.clear();
  scans_ = 0;
  bool changed = false;
  std::set<std::string> seen_files;
  std::map<std::string, std::string> first_by_name;  // plugin name -> file
  for (auto& dir_in : dirs) {
    std::error_code ec;
    fs::path dir = fs::absolute(dir_in, ec).lexically_normal();
    struct stat ds {};
    if (::stat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode)) continue;  // absent dirs are normal
    if (auto why = unsafe_plugin_location(dir, true)) {
      warnings_.push_back("refusing plugins in " + dir.string() + ": " + *why);
      continue;
    }
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".so") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& file : files) {
      if (!seen_files.insert(file.string()).second) continue;  // a directory listed twice
      struct stat fst {};
      if (::stat(file.c_str(), &fst) != 0 || !S_ISREG(fst.st_mode)) continue;
      // The file itself, or where a symbolic link leads.
      if (auto why = unsafe_plugin_location(file, false)) {
        warnings_.push_back("refusing plugin " + file.string() + ": " + *why);
        continue;
      }
      FileIdentity id = identity_of(fst);
      auto it = known_.find(file.string());
      bool fresh = it != known_.end() && matches(it->second, id);
      if (!fresh) {
        // A new or changed file; one with the same bytes (touched, copied back) keeps its record.
        auto h = hash_file(file);
        if (!h) continue;
        if (it != known_.end() && it->second.size == id.size && it->second.hash == *h) {
          set_identity(it->second, id);
        } else {
          PluginRecord rec = scan(file);
          ++scans_;
          set_identity(rec, id);
          rec.hash = *h;
          if (rec.status != PluginRecord::Status::Ok)
            warnings_.push_back("plugin " + file.string() + " is " + plugin_status_name(rec.status) + ": " +
                                rec.reason + " (it is not loaded again until the file changes)");
          it = known_.insert_or_assign(file.string(), std::move(rec)).first;
        }
        changed = true;
      }
      const PluginRecord& rec = it->second;
      if (rec.status == PluginRecord::Status::Ok) {
        auto [pos, inserted] = first_by_name.emplace(rec.name, file.string());
        if (!inserted)
          warnings_.push_back("plugin '" + rec.name + "' in " + file.string() + " is hidden by the one in " +
                              pos->second + ", which comes first in the search path");
      }
      visible_.push_back(rec);
    }
  }
  // Forget files that are gone.
  for (auto it = known_.begin(); it != known_.end();) {
    std::error_code ec;
    if (!fs::exists(it->first, ec)) {
      it = known_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) save_cache();
}

const PluginRecord* PluginRegistry::find(const std::string& name) const {
  for (auto& rec : visible_)
    if (rec.status == PluginRecord::Status::Ok && rec.name == name) return &rec;
  return nullptr;
}

}  // namespace pipette
