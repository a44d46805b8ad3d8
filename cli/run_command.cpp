// `pipette run`: compile, execute on oneTBB, write report.json and saved files.
#include <c10/core/Device.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"
#include "engine/executor.hpp"
#include "engine/provenance.hpp"
#include "engine/run_report.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::cli {

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::optional<c10::Device> choose_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda) return std::nullopt;
    return c10::Device(c10::kCUDA, 0);
  }
  return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

}  // namespace

int run_command(const GlobalOptions& g, const RunArgs& args) {
  auto options = compile_options(g);
  if (auto err = parse_sets(args.sets, options.sets)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  auto device = choose_device(args.device);
  if (!device) {
    std::fprintf(stderr, "pipette: error: --device cuda, but this LibTorch build sees no CUDA device\n");
    return 2;
  }
  lang::Compiler compiler(builtin_registry(), options);
  auto graph = compiler.compile_file(args.file);
  std::fputs(compiler.render_diagnostics(use_color(g, STDERR_FILENO)).c_str(), stderr);
  if (compiler.io_error()) return 2;
  if (!graph) return 1;

  const OpLibrary& lib = stdlib::library();
  if (auto missing = unimplemented_ops(*graph, lib.impls); !missing.empty()) {
    for (auto& op : missing) {
      for (auto& n : graph->nodes) {
        if (n.op != op) continue;
        std::fputs(format_node_error(n, "op '" + op + "' has only a signature so far; it cannot run yet").c_str(),
                   stderr);
        break;
      }
    }
    std::fprintf(stderr, "nothing was run: %zu op%s without an implementation\n", missing.size(),
                 missing.size() == 1 ? "" : "s");
    return 1;
  }

  std::filesystem::path script(args.file);
  std::filesystem::path out = args.out.empty()
                                  ? std::filesystem::path("runs") / (script.stem().string() + "-" + timestamp())
                                  : std::filesystem::path(args.out);
  std::filesystem::create_directories(out);

  RunOptions ro;
  ro.jobs = args.jobs;
  ro.seed = args.seed;
  ro.device = *device;
  ro.out_dir = out;
  ro.script_dir = script.has_parent_path() ? script.parent_path() : std::filesystem::path(".");
  ro.cancel = &g_interrupted;

  RunInfo info;
  info.script = args.file;
  info.script_hash = fmt::format("{:016x}", hash_file(script).value_or(0));
  info.seed = args.seed;
  info.device = device->str();
  info.started = utc_now_iso();
  info.run_id = script.stem().string() + "-" + timestamp();

  std::signal(SIGINT, on_sigint);
  std::mutex log_mutex;
  size_t finished = 0, total = graph->nodes.size();
  auto observer = [&](const Node& n, const NodeOutcome& o) {
    if (o.status == NodeOutcome::Status::Pending) return;
    std::lock_guard<std::mutex> lock(log_mutex);
    ++finished;
    if (o.status == NodeOutcome::Status::Done)
      spdlog::info("[{}/{}] n{} {} ({}:{}) {:.3f} s", finished, total, n.id, n.op, n.loc.file, n.loc.line, o.seconds);
    else if (o.status == NodeOutcome::Status::Failed)
      std::fputs(format_node_error(n, o.error).c_str(), stderr);
  };
  Execution e = execute(*graph, lib.ops, lib.impls, ro, observer);
  std::signal(SIGINT, SIG_DFL);

  info.finished = utc_now_iso();
  info.status = g_interrupted.load() ? "interrupted" : e.ok() ? "ok" : "failed";
  auto report = write_run_report(out, *graph, e, info);

  std::fprintf(stderr, "%s: %zu nodes, %zu failed, %zu skipped%s; report: %s\n", info.status.c_str(), total, e.failed,
               e.skipped, e.cancelled ? fmt::format(", {} cancelled", e.cancelled).c_str() : "",
               report.string().c_str());
  if (!e.missing_reports.empty()) {
    std::string names;
    for (auto& n : e.missing_reports) names += (names.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "not reported (an input failed): %s\n", names.c_str());
  }
  if (g_interrupted.load()) return 130;
  return e.ok() ? 0 : 1;
}

}  // namespace pipette::cli
