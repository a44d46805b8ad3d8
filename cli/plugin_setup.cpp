#include "cli/plugin_setup.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>

#include <pugixml.hpp>

#include "engine/plugin_loader.hpp"
#include "engine/signature_xml.hpp"
#include "engine/suggest.hpp"
#include "stdlib/stdlib.hpp"

#ifndef PIPETTE_PLUGIN_SUBDIR
#define PIPETTE_PLUGIN_SUBDIR "lib/pipette/plugins"
#endif

namespace pipette::cli {

namespace fs = std::filesystem;

namespace {
fs::path& host_executable() {
  static fs::path p;
  return p;
}
}  // namespace

void set_host_executable(const fs::path& pipette) { host_executable() = pipette; }

fs::path self_exe() {
  if (!host_executable().empty()) return host_executable();
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

fs::path installed_plugin_dir() {
  auto exe = self_exe();
  if (exe.empty()) return {};
  return (exe.parent_path() / ".." / PIPETTE_PLUGIN_SUBDIR).lexically_normal();
}

PluginRegistry& plugin_registry(const GlobalOptions& g) {
  // Python threads may compile at once (the module releases the GIL): built once.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  static std::unique_ptr<PluginRegistry> registry;
  if (registry) return *registry;
  PluginScanner scanner;
  scanner.command = {self_exe().string(), "__scan-plugin"};
  if (const char* t = std::getenv("PIPETTE_PLUGIN_SCAN_TIMEOUT")) scanner.timeout_s = std::atof(t);
  registry = std::make_unique<PluginRegistry>(default_registry_file(), host_fingerprint(), scanner);
  registry->update(plugin_search_dirs(g.plugin_path, installed_plugin_dir()));
  for (auto& w : registry->warnings()) spdlog::warn("{}", w);
  if (registry->scans()) spdlog::info("scanned {} plugin file(s)", registry->scans());
  return *registry;
}

lang::PluginResolver plugin_resolver(const GlobalOptions& g) {
  return [&g](const std::string& name, OpRegistry& into) -> std::optional<std::string> {
    PluginRegistry& reg = plugin_registry(g);
    if (const PluginRecord* rec = reg.find(name)) {
      for (auto sig : rec->ops) {
        sig.set_plugin(name);  // the cache does not store the owner; hover and messages name it
        into.add(std::move(sig));
      }
      return std::nullopt;
    }
    std::string msg = "no plugin called '" + name + "' in the plugin search path";
    std::vector<std::string> names;
    std::string broken;
    for (auto& rec : reg.plugins()) {
      if (rec.status == PluginRecord::Status::Ok) names.push_back(rec.name);
      else broken += "; " + rec.file.string() + " is " + plugin_status_name(rec.status) + ": " + rec.reason;
    }
    if (auto best = closest(name, names)) msg += "; did you mean '" + *best + "'?";
    else if (!names.empty()) {
      msg += " (found:";
      for (auto& n : names) msg += " " + n;
      msg += ")";
    } else {
      msg += " (no plugins found; see `pipette plugins list`)";
    }
    return msg + broken;
  };
}

bool load_declared_plugins(const GlobalOptions& g, const Graph& graph, OpLibrary& lib, std::string* errors) {
  bool ok = true;
  auto fail = [&](const std::string& why) {
    if (errors) *errors += (errors->empty() ? "" : "\n") + why;
    else std::fprintf(stderr, "pipette: error: %s\n", why.c_str());
    ok = false;
  };
  for (auto& name : graph.plugins) {
    const PluginRecord* rec = plugin_registry(g).find(name);
    if (!rec) {  // the compiler checked it; the file went away since
      fail("plugin '" + name + "' is no longer in the search path");
      continue;
    }
    // The registry was brought up to date moments ago; a file swapped since
    // then is not the one that was scanned and is not loaded.
    if (!same_file_as_scanned(*rec, rec->file)) {
      fail("plugin '" + name + "' (" + rec->file.string() + ") changed while pipette was starting; run again");
      continue;
    }
    // A long-lived library (the Python module's) may have loaded it before.
    if (!rec->ops.empty() && lib.impls.find(rec->ops.front().name())) continue;
    PluginLoad r = load_plugin(rec->file, lib);
    if (!r.ok()) {
      fail(r.error);
      continue;
    }
    spdlog::info("loaded plugin '{}' {} from {}", r.plugin->name, r.plugin->version, rec->file.string());
  }
  return ok;
}

int scan_plugin_main(const std::string& file) {
  OpLibrary lib = stdlib::library();  // so that clashes with built-in ops are found here
  PluginLoad r = load_plugin(file, lib);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error.c_str());
    return 3;
  }
  pugi::xml_document doc;
  auto p = doc.append_child("plugin");
  p.append_attribute("name") = r.plugin->name.c_str();
  p.append_attribute("version") = r.plugin->version.c_str();
  p.append_attribute("description") = r.plugin->description.c_str();
  for (auto& op : r.plugin->ops) write_signature_xml(*lib.ops.find(op), p);
  doc.save(std::cout);  // pugixml writes through an ostream
  std::fflush(stdout);
  return 0;
}

}  // namespace pipette::cli
