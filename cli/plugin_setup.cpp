#include "cli/plugin_setup.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>


#include "engine/suggest.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

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
  // The runtime's fingerprint as the build recorded it: the front end has no LibTorch to ask.
  registry = std::make_unique<PluginRegistry>(default_registry_file(), stdlib::builtin_host_fingerprint(), scanner);
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

}  // namespace pipette::cli
