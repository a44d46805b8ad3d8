#include "engine/plugin_loader.hpp"

#include <dlfcn.h>

#include <cstring>

#include "engine/plugin_api.hpp"

namespace pipette {

std::string host_fingerprint() { return PIPETTE_BUILD_FINGERPRINT; }

namespace {

PluginLoad fail(const std::filesystem::path& file, const std::string& plugin, const std::string& why) {
  PluginLoad r;
  r.error = "cannot load plugin " + (plugin.empty() ? "" : "'" + plugin + "' ") + "from " + file.string() + ": " + why;
  return r;
}

// Registration runs plugin code: anything it throws becomes a message.
std::optional<std::string> run_registration(const PipettePluginDescriptor& d, OpLibrary& scratch) {
  try {
    d.register_ops(&scratch);
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string("its registration threw: ") + e.what();
  } catch (...) {
    return std::string("its registration threw a non-standard exception");
  }
}

}  // namespace

PluginLoad load_plugin(const std::filesystem::path& file, OpLibrary& into) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return fail(file, "", "no such file");
  // RTLD_NOW: an unresolved symbol is an error here, not a crash in the middle of
  // a run. RTLD_LOCAL: the plugin's symbols never satisfy another plugin's.
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return fail(file, "", why ? why : "dlopen failed");
  }
  ::dlerror();
  void* sym = ::dlsym(handle, PIPETTE_PLUGIN_ENTRY_SYMBOL);
  if (!sym) return fail(file, "", "not a pipette plugin (it has no symbol '" PIPETTE_PLUGIN_ENTRY_SYMBOL "')");
  auto entry = reinterpret_cast<PipettePluginEntry>(sym);
  const PipettePluginDescriptor* d = entry();
  if (!d) return fail(file, "", "its entry point returned no descriptor");
  // Read abi_version before anything else: a different ABI may lay out the rest differently.
  if (d->abi_version != PIPETTE_PLUGIN_ABI_VERSION)
    return fail(file, "",
                "it was built for plugin ABI " + std::to_string(d->abi_version) + ", this pipette speaks ABI " +
                    std::to_string(PIPETTE_PLUGIN_ABI_VERSION) + "; rebuild it against this pipette's SDK");
  if (d->struct_size < sizeof(PipettePluginDescriptor)) return fail(file, "", "its descriptor is truncated");
  std::string name = d->name ? d->name : "";
  if (name.empty()) return fail(file, "", "its descriptor has no name");
  std::string fingerprint = d->fingerprint ? d->fingerprint : "";
  if (fingerprint != host_fingerprint())
    return fail(file, name,
                "it was built as '" + fingerprint + "' but this pipette is '" + host_fingerprint() +
                    "'; C++ objects cross the boundary, so both must match: rebuild the plugin against this SDK");
  if (!d->register_ops) return fail(file, name, "its descriptor has no registration function");

  OpLibrary scratch;
  if (auto err = run_registration(*d, scratch)) return fail(file, name, *err);
  // All or nothing: a clash leaves `into` untouched.
  for (auto* sig : scratch.ops.ops()) {
    if (auto* held = into.ops.find(sig->name())) {
      std::string owner = held->plugin().empty() ? "the standard library" : "plugin '" + held->plugin() + "'";
      return fail(file, name, "its op '" + sig->name() + "' clashes with the op of that name from " + owner);
    }
    if (!scratch.impls.find(sig->name()))
      return fail(file, name, "its op '" + sig->name() + "' has a signature but no implementation");
  }

  PluginInfo info;
  info.name = name;
  info.version = d->version ? d->version : "";
  info.description = d->description ? d->description : "";
  info.file = file;
  for (auto* sig : scratch.ops.ops()) {
    OpSignature copy = *sig;
    copy.set_plugin(name);
    into.impls.add(copy.name(), *scratch.impls.find(copy.name()));
    info.ops.push_back(copy.name());
    into.ops.add(std::move(copy));
  }
  PluginLoad r;
  r.plugin = std::move(info);
  return r;
}

}  // namespace pipette
