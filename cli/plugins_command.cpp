// `pipette plugins list|inspect`: what the registry cache knows, without loading
// any plugin into this process.
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/plugin_setup.hpp"

namespace pipette::cli {

std::string format_op(const OpSignature& op, bool verbose);

int plugins_command(const GlobalOptions& g, const std::string& action, const std::string& name) {
  PluginRegistry& reg = plugin_registry(g);
  if (action == "list") {
    std::string out;
    for (auto& rec : reg.plugins()) {
      if (rec.status == PluginRecord::Status::Ok) {
        out += fmt::format("{:<16} {:<10} {} op{}  {}\n", rec.name, rec.version, rec.ops.size(),
                           rec.ops.size() == 1 ? "" : "s", rec.file.string());
        if (!rec.description.empty()) out += "    " + rec.description + "\n";
      } else {
        out += fmt::format("{:<16} {:<10} {}\n    {}\n", "?", plugin_status_name(rec.status), rec.file.string(),
                           rec.reason);
      }
    }
    if (reg.plugins().empty()) out += "no plugins found\n";
    out += "search path:";
    for (auto& d : plugin_search_dirs(g.plugin_path, installed_plugin_dir())) out.append(" ").append(d.string());
    std::fputs((out + "\n").c_str(), stdout);
    return 0;
  }
  const PluginRecord* rec = reg.find(name);
  if (!rec) {
    std::fprintf(stderr, "pipette: error: no plugin called '%s' (see `pipette plugins list`)\n", name.c_str());
    return 1;
  }
  std::string out = fmt::format("{} {}\n  {}\n  file: {}\n  ops:\n", rec->name, rec->version, rec->description,
                                rec->file.string());
  for (auto& op : rec->ops) out += format_op(op, true);
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace pipette::cli
