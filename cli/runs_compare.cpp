// `pipette runs compare A B [C ...] [-o FILE]`: the runs side by side as one
// HTML page (engine/html_compare.hpp). Each run is read from its report.json
// when its output directory still holds it; a directory since reused by
// another run gives the run store's record instead, without files.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "cli/commands.hpp"
#include "engine/atomic_file.hpp"
#include "engine/html_compare.hpp"
#include "engine/html_page.hpp"
#include "engine/op_impl.hpp"
#include "engine/run_layout.hpp"
#include "engine/run_store.hpp"

namespace pipette::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// The record as report.json would have it.
json from_store(const StoredRun& r) {
  json reports = json::object();
  for (auto& rep : r.reports) reports[rep.name] = json::parse(rep.value_json, nullptr, false);
  json nodes = json::array();
  for (auto& n : r.nodes) {
    json jn{{"id", n.node}, {"op", n.op}, {"loc", n.loc}, {"status", n.status}, {"seconds", n.seconds}};
    if (n.cached) jn["cached"] = true;
    if (n.peak_bytes >= 0) jn["peak_bytes"] = n.peak_bytes;
    nodes.push_back(std::move(jn));
  }
  json params = json::parse(r.params_json, nullptr, false);
  return json{{"run",
               {{"id", r.id}, {"script", r.script}, {"script_hash", r.script_hash}, {"params", params.is_object() ? params : json::object()},
                {"seed", r.seed}, {"device", r.device}, {"status", r.status}, {"started", r.started},
                {"finished", r.finished}, {"pipette_version", r.pipette}, {"libtorch_version", r.libtorch}}},
              {"reports", reports},
              {"nodes", nodes}};
}

ComparedRun compared(const StoredRun& r) {
  ComparedRun c;
  c.out_dir = r.out_dir;
  std::ifstream in(fs::path(r.out_dir) / "report.json");
  json file = in ? json::parse(in, nullptr, false) : json();
  if (file.is_object() && file.contains("run") && file["run"].value("id", std::string()) == r.id) {
    c.report = std::move(file);
    c.note = r.out_dir;
    return c;
  }
  c.report = from_store(r);
  c.has_files = false;
  c.note = file.is_object() && file.contains("run")
               ? r.out_dir + " now holds run " + file["run"].value("id", std::string("?")) +
                     ": the record is shown, not its files"
               : r.out_dir + " has no report.json: the record is shown, not its files";
  return c;
}

// A name for the page from the runs' ids, as report names become file names
// (run_layout.hpp): characters any filesystem takes, long ones shortened by a hash.
std::string page_name(const std::vector<std::string>& ids) {
  std::string name = "compare";
  for (auto& id : ids) name += (name == "compare" ? "-" : "--") + id;
  return report_file_stem(name) + ".html";
}

// A page this command wrote: it starts with the head html_page_head writes,
// with this command's generator.
bool written_by_pipette(const fs::path& file) {
  std::string want = html_page_head("", compare_page_generator());
  want = want.substr(0, want.find("<title>"));
  std::ifstream in(file, std::ios::binary);
  std::string head(want.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return in.gcount() == static_cast<std::streamsize>(want.size()) && head == want;
}

}  // namespace

int runs_compare(const RunStore& store, const RunsArgs& args) {
  std::vector<ComparedRun> runs;
  std::vector<std::string> ids;
  for (auto& id : args.ids) {
    auto r = store.get(id);
    if (!r) {
      std::fprintf(stderr, "pipette: error: no run '%s' (see `pipette runs`)\n", excerpt(id, 200).c_str());
      return 1;
    }
    ids.push_back(r->id);
    runs.push_back(compared(*r));
  }
  // Without -o the page goes beside the run store, as compare/NAME.html; either
  // way a file already there is replaced only if it is such a page.
  fs::path page = args.output.empty() ? fs::path(args.db).parent_path() / "compare" / page_name(ids) : fs::path(args.output);
  std::error_code ec;
  if (page.filename().empty() || fs::is_directory(page, ec)) {
    std::fprintf(stderr, "pipette: error: -o needs a file name, not the directory %s\n", excerpt(page.string(), 500).c_str());
    return 2;
  }
  if (fs::exists(fs::symlink_status(page, ec)) && (!fs::is_regular_file(fs::symlink_status(page, ec)) || !written_by_pipette(page))) {
    std::fprintf(stderr, "pipette: error: %s exists and is not a page `pipette runs compare` wrote; it is left as it is (choose another -o)\n",
                 excerpt(page.string(), 500).c_str());
    return 2;
  }
  fs::path dir = fs::absolute(page, ec).parent_path();
  try {
    write_file_atomically(page, compare_page(runs, dir));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipette: error: %s\n", e.what());
    return 2;
  }
  std::printf("page  %s\n", excerpt(page.string(), 2000).c_str());
  return 0;
}

}  // namespace pipette::cli
