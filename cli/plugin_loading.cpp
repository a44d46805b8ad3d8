#include "cli/plugin_loading.hpp"

#include <pugixml.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "cli/plugin_setup.hpp"
#include "engine/plugin_loader.hpp"
#include "engine/signature_xml.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::cli {

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
