#include "engine/executor.hpp"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <optional>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "engine/dataset.hpp"
#include "engine/value_checks.hpp"
#include "engine/value_io.hpp"

#ifdef PIPETTE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace pipette {

std::vector<std::string> unimplemented_ops(const Graph& g, const OpImpls& impls) {
  std::set<std::string> missing;
  for (auto& n : g.nodes)
    if (!impls.find(n.op)) missing.insert(n.op);
  return {missing.begin(), missing.end()};
}

const char* status_name(NodeOutcome::Status s) {
  switch (s) {
    case NodeOutcome::Status::Pending: return "pending";
    case NodeOutcome::Status::Done: return "done";
    case NodeOutcome::Status::Failed: return "failed";
    case NodeOutcome::Status::Skipped: return "skipped";
    case NodeOutcome::Status::Cancelled: return "cancelled";
    case NodeOutcome::Status::Unneeded: return "unneeded";
  }
  return "?";
}

const char* plan_name(NodePlan p) {
  switch (p) {
    case NodePlan::Run: return "run";
    case NodePlan::Load: case NodePlan::Keep: return "cached";
    case NodePlan::Unneeded: return "unneeded";
  }
  return "?";
}

namespace {

// The distinct nodes each node reads.
std::vector<std::vector<uint32_t>> node_inputs(const Graph& g) {
  std::vector<std::vector<uint32_t>> inputs(g.nodes.size());
  for (auto& n : g.nodes) {
    std::set<uint32_t> in;
    for (auto& [k, v] : n.args) v.for_each_ref([&](const Operand& r) { in.insert(r.node); });
    inputs[n.id].assign(in.begin(), in.end());
  }
  return inputs;
}

// One backwards sweep (nodes are in topological order): what is reported or
// written is needed; a needed node that must run needs its inputs.
std::vector<NodePlan> plan_from_hits(const Graph& g, const std::vector<std::vector<uint32_t>>& inputs,
                                     const std::vector<char>& hit, const std::vector<uint32_t>& targets) {
  std::vector<char> needed(g.nodes.size());
  if (targets.empty())
    for (auto& r : g.reports) r.value.for_each_ref([&](const Operand& ref) { needed[ref.node] = 1; });
  for (uint32_t t : targets) needed.at(t) = 1;
  std::vector<NodePlan> plan(g.nodes.size());
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (g.nodes[i].side_effect && targets.empty()) needed[i] = 1;
    if (!needed[i]) {
      plan[i] = hit[i] ? NodePlan::Keep : NodePlan::Unneeded;
    } else if (hit[i]) {
      plan[i] = NodePlan::Load;
    } else {
      plan[i] = NodePlan::Run;
      for (uint32_t in : inputs[i]) needed[in] = 1;
    }
  }
  return plan;
}

// Whether a value of type t may hold a dataset, which the cache does not
// store (a dataset is re-opened, not copied): such nodes are not offloaded.
bool may_hold_dataset(const Type& t) {
  switch (t.kind()) {
    case Type::Kind::Dataset: case Type::Kind::Any: return true;
    case Type::Kind::List: return may_hold_dataset(t.element());
    case Type::Kind::Union:
      return std::any_of(t.members().begin(), t.members().end(), [](const Type& m) { return may_hold_dataset(m); });
    case Type::Kind::Record: {
      const auto* f = t.fields();
      if (!f) return true;
      return std::any_of(f->begin(), f->end(), [](const auto& x) { return may_hold_dataset(x.type); });
    }
    default: return false;
  }
}

std::vector<char> cache_hits(const Graph& g, const std::vector<NodeKey>& keys, const Cache* cache) {
  std::vector<char> hit(g.nodes.size());
  if (cache)
    for (auto& n : g.nodes) hit[n.id] = !n.side_effect && cache->contains(keys[n.id]);
  return hit;
}

}  // namespace

std::vector<NodePlan> plan_nodes(const Graph& g, const std::vector<NodeKey>& keys, const Cache* cache,
                                 const std::vector<uint32_t>& targets) {
  return plan_from_hits(g, node_inputs(g), cache_hits(g, keys, cache), targets);
}

std::string format_node_error(const Node& n, const std::string& message) {
  std::string out = n.loc.to_string() + ": error: in node n" + std::to_string(n.id) + " (" + n.op + "): " + message + "\n";
  std::ifstream in(n.loc.file);
  std::string line;
  for (uint32_t i = 0; i < n.loc.line && std::getline(in, line);) ++i;
  if (in || !line.empty()) {
    std::string gutter = std::to_string(n.loc.line);
    out += " " + gutter + " | " + line + "\n " + std::string(gutter.size(), ' ') + " | " +
           std::string(n.loc.column > 0 ? n.loc.column - 1 : 0, ' ') + "^" +
           std::string(n.loc.length > 1 ? n.loc.length - 1 : 0, '~') + "\n";
  }
  for (auto& site : n.inlined_from) out += site.to_string() + ": note: in a pipeline called here\n";
  return out;
}

namespace {

// An op's error as recorded and printed: whatever a message quotes (a cell of
// a 50 MB CSV file), the terminal, report.json and the run store get a bounded text.
constexpr size_t kMaxMessage = 4000;

// A node's device: its own `device=` (cpu, cuda, cuda:N, auto) or the run's.
c10::Device node_device(const Node& n, c10::Device run_device) {
  if (n.device.empty()) return run_device;
  bool cuda = at::hasCUDA();
  if (n.device == "auto") return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device d(n.device);  // throws c10::Error on a malformed name
  if (d.is_cuda() && !cuda)
    throw OpError("device '" + n.device + "' was asked for, but this LibTorch build sees no CUDA device");
  return d;
}

// Moves the tensors inside a value to `device`; values already there are not copied.
Value to_device(const Value& v, c10::Device device) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    return t.device() == device ? v : Value(t.to(device));
  }
  if (v.isList()) {
    c10::impl::GenericList out(c10::AnyType::get());
    bool moved = false;
    for (const auto& it : v.toListRef()) {
      out.push_back(to_device(it, device));
      moved |= !out.get(out.size() - 1).isSameIdentity(it);
    }
    return moved ? Value(out) : v;
  }
  if (v.isGenericDict()) {
    auto dict = v.toGenericDict();
    c10::impl::GenericDict out(dict.keyType(), dict.valueType());
    bool moved = false;
    for (const auto& kv : dict) {
      Value m = to_device(kv.value(), device);
      moved |= !m.isSameIdentity(kv.value());
      out.insert(kv.key(), std::move(m));
    }
    return moved ? Value(out) : v;  // most records are already in place: no copy
  }
  return v;
}

// Resident set sizes from /proc/self/status, in bytes; -1 when unreadable.
int64_t proc_status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t len = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::atoll(line.c_str() + len + 1) * 1024;
  return -1;
}

// Resets the kernel's resident-set high-water mark (VmHWM), Linux >= 4.0.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out.flush());
}

class Run {
 public:
  Run(const Graph& g, const OpRegistry& ops, const OpImpls& impls, const RunOptions& o, const NodeObserver& obs)
      : g_(g), impls_(impls), opts_(o), observer_(obs), values_(g.nodes.size()), pending_(g.nodes.size()),
        uses_(g.nodes.size()), consumers_(g.nodes.size()), inputs_(node_inputs(g)) {
    result_.keys = provenance_keys(g, ops, o.script_dir, o.seed, &result_.ingredients);
    result_.nodes.resize(g.nodes.size());
    sigs_.resize(g.nodes.size());
    started_.resize(g.nodes.size());
    clean_ = std::vector<std::atomic<bool>>(g.nodes.size());
    for (auto& n : g.nodes) sigs_[n.id] = ops.find(n.op);
    for (auto& n : g.nodes) {
      pending_[n.id].store(static_cast<int>(inputs_[n.id].size()));
      for (uint32_t in : inputs_[n.id]) {
        consumers_[in].push_back(n.id);
        uses_[in].fetch_add(1);
      }
    }
    // Reported values are kept to the end.
    for (auto& r : g.reports) r.value.for_each_ref([&](const Operand& ref) { uses_[ref.node].fetch_add(1 << 20); });
  }

  Execution run() {
    run_started_ = std::chrono::steady_clock::now();
    int hw = std::max(1u, std::thread::hardware_concurrency());
    int jobs = opts_.jobs > 0 ? opts_.jobs : hw;
    // Concurrent nodes share the cores with LibTorch's own intra-op threads.
    // Only when the number changes: LibTorch rebuilds its pthreadpool on every
    // call, and the new threads spin for milliseconds waiting for work, taking
    // the 2 cores from the ops (perf: 60 % of a small attribution node's
    // samples were spinning pool threads).
    int intra = opts_.intra_threads > 0 ? opts_.intra_threads : std::max(1, hw / jobs);
    if (at::get_num_threads() != intra) at::set_num_threads(intra);
    // Per-node peak memory is only meaningful when nodes do not overlap.
    measure_memory_ = jobs == 1 && reset_peak_rss();
    tbb::task_arena arena(jobs);
    arena.execute([&] {
      plan();
      // Roots are the nodes without inputs, decided from the graph: reading
      // pending_ here would race with finishing roots, which start their
      // consumers themselves (a node seen at zero here could be started twice).
      for (auto& n : g_.nodes)
        if (inputs_[n.id].empty()) group_.run([this, id = n.id] { run_node(id); });
      wait_for_everything();
    });
    for (auto& out : result_.nodes) {
      result_.failed += out.status == NodeOutcome::Status::Failed;
      result_.skipped += out.status == NodeOutcome::Status::Skipped;
      result_.cancelled += out.status == NodeOutcome::Status::Cancelled;
      result_.cached += out.cached;
      result_.computed += out.status == NodeOutcome::Status::Done && !out.cached;
      result_.unneeded += out.status == NodeOutcome::Status::Unneeded;
    }
    result_.cache_write_failures = cache_failures_.load();
    collect_reports();
    return std::move(result_);
  }

 private:
  // Resolves an operand against computed values; false when an input is missing.
  bool resolve(const Operand& o, Value& out) {
    using K = Operand::Kind;
    if (o.kind == K::Ref) {
      if (result_.nodes[o.node].status != NodeOutcome::Status::Done) return false;
      out = select_path(values_[o.node], o.path);
      return true;
    }
    if (o.is_constant()) {
      out = constant_value(o);
      return true;
    }
    if (o.kind == K::List) {
      c10::impl::GenericList list(c10::AnyType::get());
      for (auto& it : o.items) {
        Value v;
        if (!resolve(it, v)) return false;
        list.push_back(v);
      }
      out = Value(list);
      return true;
    }
    std::vector<std::pair<std::string, Value>> fields;
    for (auto& [k, it] : o.fields) {
      Value v;
      if (!resolve(it, v)) return false;
      fields.emplace_back(k, v);
    }
    out = make_record(fields);
    return true;
  }

  void run_node(uint32_t id) {
    const Node& n = g_.nodes[id];
    NodeOutcome& out = result_.nodes[id];
    bool inputs_ok = std::all_of(inputs_[id].begin(), inputs_[id].end(), [&](uint32_t in) {
      return result_.nodes[in].status == NodeOutcome::Status::Done;
    });
    std::vector<Value> args;
    if (plan_[id] == NodePlan::Unneeded) {
      out.status = NodeOutcome::Status::Unneeded;
    } else if (plan_[id] != NodePlan::Run) {  // loaded by plan(), or not needed at all
      out.status = NodeOutcome::Status::Done;
      out.cached = true;
    } else if (!inputs_ok) {
      out.status = NodeOutcome::Status::Skipped;
    } else if (opts_.cancel && opts_.cancel->load()) {
      out.status = NodeOutcome::Status::Cancelled;
    } else if (!build_args(n, args) || !check_inputs(n, args)) {
      out.status = NodeOutcome::Status::Failed;
    } else if (offloaded(n)) {
      return;  // finished when its job is: complete_offloaded
    } else {
      if (observer_) observer_(n, out);
      OpContext ctx{n,
                    opts_.device,
                    node_seed(result_.keys[id], opts_.seed),
                    opts_.out_dir,
                    opts_.script_dir,
                    opts_.cancel,
                    opts_.memory_budget,
                    {},   // progress_sink and log_sink: set below
                    {}};
      for (size_t i = 0; i < n.args.size(); ++i)
        if (n.args[i].first == "seed" && args[i].isInt()) ctx.seed = static_cast<uint64_t>(args[i].toInt());
      if (opts_.progress) ctx.progress_sink = [this, &n](uint64_t d, uint64_t t) { opts_.progress(n, d, t); };
      // Warnings are kept with the node as well as said: an op may log from its
      // own worker threads, so under a lock.
      ctx.log_sink = [this, &n, &out](int level, const std::string& m) {
        if (level >= OpContext::Warn) {
          std::lock_guard<std::mutex> lock(warnings_mu_);
          if (out.warnings.size() < 20) out.warnings.push_back(excerpt(m, kMaxMessage));
        }
        if (opts_.log) opts_.log(n, level, m);
      };
      int64_t rss_before = -1;
      if (measure_memory_ && reset_peak_rss()) rss_before = proc_status_bytes("VmRSS");
      auto t0 = std::chrono::steady_clock::now();
      out.started = std::chrono::duration<double>(t0 - run_started_).count();
      // Thread-local in LibTorch, so set on the thread that runs the node.
      torch::jit::GraphOptimizerEnabledGuard jit_optimize(opts_.jit_optimize);
      try {
        const OpRun* fn = impls_.find(n.op);
        if (!fn) throw OpError("op '" + n.op + "' has no implementation yet (signature only)");
        ctx.device = node_device(n, opts_.device);
        // Inputs move only when they live elsewhere.
        for (auto& a : args) a = to_device(a, ctx.device);
#ifdef PIPETTE_WITH_CUDA
        // Concurrent branches on one GPU each get a stream from the pool; the node
        // waits for its stream before its consumers (on other streams) start.
        std::optional<c10::cuda::CUDAStreamGuard> stream_guard;
        if (ctx.device.is_cuda())
          stream_guard.emplace(c10::cuda::getStreamFromPool(false, ctx.device.index() < 0 ? 0 : ctx.device.index()));
#endif
        values_[id] = (*fn)(OpArgs(n, std::move(args)), ctx);
#ifdef PIPETTE_WITH_CUDA
        if (stream_guard) stream_guard->current_stream().synchronize();
#endif
        check_output(id);
        out.status = NodeOutcome::Status::Done;
      } catch (const c10::Error& e) {
        out.status = NodeOutcome::Status::Failed;
        out.error = excerpt(without_torchscript_trace(e.what_without_backtrace()), kMaxMessage);
      } catch (const std::exception& e) {
        out.status = NodeOutcome::Status::Failed;
        out.error = excerpt(without_torchscript_trace(e.what()), kMaxMessage);
      }
      // Side effects (files written into this run's directory) are redone
      // every run; everything else is stored for the next one.
      // Datasets are re-opened instead: cheap, and not picklable.
      if (out.status == NodeOutcome::Status::Done && opts_.cache && !n.side_effect && !contains_dataset(values_[id]))
        store(id);
      out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rss_before >= 0) {
        int64_t peak = proc_status_bytes("VmHWM");
        if (peak >= 0) out.peak_bytes = std::max<int64_t>(0, peak - rss_before);
      }
      if (ctx.cancelled() && out.status == NodeOutcome::Status::Failed) out.status = NodeOutcome::Status::Cancelled;
    }
    finish(id);
  }

  // Hands the node to RunOptions::offload when it takes it. The node's inputs
  // are in the cache: every value this run computed was stored there before
  // its consumers started, and datasets (not stored) are re-opened by the job.
  bool offloaded(const Node& n) {
    if (!opts_.offload || !opts_.cache || n.side_effect || may_hold_dataset(n.type) ||
        !opts_.offload->takes(n, sigs_[n.id]))
      return false;
    if (observer_) observer_(n, result_.nodes[n.id]);
    {
      std::lock_guard<std::mutex> lock(offload_mu_);
      ++outstanding_;
    }
    started_[n.id] = std::chrono::steady_clock::now();
    result_.nodes[n.id].started = std::chrono::duration<double>(started_[n.id] - run_started_).count();
    opts_.offload->start(n, result_.keys[n.id], [this, id = n.id](OffloadOutcome o) {
      std::lock_guard<std::mutex> lock(offload_mu_);
      completions_.emplace_back(id, std::move(o));
      offload_cv_.notify_all();
    });
    return true;
  }

  // The nodes' tasks, and then the offloaded nodes: each completion is
  // finished on the arena (it may start consumers), until none is out. Ctrl-C
  // reaches the offload here, once, since no worker is waiting for a job.
  void wait_for_everything() {
    for (;;) {
      group_.wait();
      std::vector<std::pair<uint32_t, OffloadOutcome>> batch;
      {
        std::unique_lock<std::mutex> lock(offload_mu_);
        while (completions_.empty() && outstanding_ > 0) {
          offload_cv_.wait_for(lock, std::chrono::milliseconds(100));
          if (opts_.cancel && opts_.cancel->load() && !cancel_sent_) {
            cancel_sent_ = true;
            lock.unlock();
            opts_.offload->cancel_all();
            lock.lock();
          }
        }
        if (completions_.empty()) return;
        batch.swap(completions_);
        outstanding_ -= batch.size();
      }
      for (auto& c : batch) group_.run([this, c = std::move(c)] { complete_offloaded(c.first, c.second); });
    }
  }

  // An offloaded node's end: its value from the cache, where the job stored it.
  void complete_offloaded(uint32_t id, const OffloadOutcome& o) {
    NodeOutcome& out = result_.nodes[id];
    out.job = o.job;
    if (!o.warning.empty()) out.warning += (out.warning.empty() ? "" : "; ") + o.warning;
    if (o.status == OffloadOutcome::Status::Cancelled) {
      out.status = NodeOutcome::Status::Cancelled;
    } else if (o.status == OffloadOutcome::Status::Failed) {
      out.status = NodeOutcome::Status::Failed;
      out.error = excerpt(o.error, kMaxMessage);
    } else {
      std::string damage;
      std::optional<Value> v;
      try {
        v = opts_.cache->load(result_.keys[id], &damage);
      } catch (const std::exception& e) {
        damage = e.what();
      }
      if (!v) {
        out.status = NodeOutcome::Status::Failed;
        out.error = excerpt("its job " + o.job.job_id + " finished, but its result is not in the cache at " +
                                opts_.cache->dir().string() + (damage.empty() ? "" : " (" + damage + ")") +
                                ": is that directory on a filesystem the compute nodes share with this one?",
                            kMaxMessage);
      } else {
        values_[id] = std::move(*v);
        try {
          check_output(id);
          out.status = NodeOutcome::Status::Done;
        } catch (const std::exception& e) {
          out.status = NodeOutcome::Status::Failed;
          out.error = excerpt(e.what(), kMaxMessage);
        }
      }
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_[id]).count();
    finish(id);
  }

  // The signature's contracts on what the op reads: no NaN or Inf (unless the
  // op passes them), and tensors fed to a model in the model's dtype. False,
  // with the error recorded, when an input breaks one.
  bool check_inputs(const Node& n, std::vector<Value>& args) {
    const OpSignature* sig = sigs_[n.id];
    if (!sig) return true;
    NodeOutcome& out = result_.nodes[n.id];
    try {
      for (size_t i = 0; i < n.args.size(); ++i) {
        const auto& [name, operand] = n.args[i];
        bool known_clean = operand.kind == Operand::Kind::Ref && clean_[operand.node].load();
        if (!sig->passes_nonfinite_values() && !known_clean && !operand.is_constant()) {
          if (auto f = find_nonfinite(args[i])) {
            std::string from;
            if (operand.kind == Operand::Kind::Ref) {
              const Node& src = g_.nodes[operand.node];
              from = " (from " + node_name(src.id) + " " + src.op + " at " + src.loc.to_string() + ")";
            }
            out.error = "input '" + name + "' holds " + describe_nonfinite(*f) + from +
                        "; tensor.nan_to_num replaces them, or leave those examples out";
            return false;
          }
        }
        const ParamSpec* p = sig->find_param(name);
        if (p && !p->feeds.empty() && args[i].isTensor()) cast_for_model(n, *p, args, i);
        if (p && p->images && args[i].isTensor()) check_images(args[i].toTensor(), name, p->image_channels);
      }
      return true;
    } catch (const std::exception& e) {
      out.error = excerpt(e.what(), kMaxMessage);
      return false;
    }
  }

  // A tensor fed to a model: integer images are refused in one line, other
  // floating dtypes cast to the model's (said once per node).
  void cast_for_model(const Node& n, const ParamSpec& p, std::vector<Value>& args, size_t i) {
    const at::Tensor& t = args[i].toTensor();
    std::optional<at::ScalarType> dtype;
    for (size_t j = 0; j < n.args.size(); ++j)
      if (n.args[j].first == p.feeds) dtype = model_dtype(args[j]);
    // 8-bit images (PIL, torchvision.io) fed to a float model gave ~40 lines
    // of TorchScript trace. Other integer inputs pass as they are: token ids
    // for an embedding are integers on purpose.
    if (t.scalar_type() == at::kByte && dtype && at::isFloatingType(*dtype))
      throw OpError("input '" + p.name + "' is " + describe(args[i]) +
                    ", but the model takes floating-point inputs; scale 8-bit images to [0, 1] first: "
                    "tensor.div(x, 255.0)");
    if (!t.is_floating_point() || !dtype || t.scalar_type() == *dtype) return;
    if (opts_.log)
      opts_.log(n, OpContext::Info,
                "input '" + p.name + "' is " + dtype_name(t.scalar_type()) + ": cast to " + dtype_name(*dtype) +
                    ", the model's dtype");
    args[i] = Value(t.to(*dtype));
  }

  // What the op returned may not hold NaN or Inf unless it passes them; either
  // way the engine remembers whether it is clean, so consumers need not look again.
  void check_output(uint32_t id) {
    auto f = find_nonfinite(values_[id]);
    clean_[id].store(!f);
    if (!f) return;
    if (sigs_[id] && sigs_[id]->may_return_nonfinite_values()) {
      if (!sigs_[id]->passes_nonfinite_values() && opts_.log)
        opts_.log(g_.nodes[id], OpContext::Info,
                  "its output holds " + describe_nonfinite(*f) + ": values it documents as undefined");
      return;
    }
    throw OpError("its output holds " + describe_nonfinite(*f) +
                  "; its tensor inputs hold none, so the op made them (or the model it runs, or data it read)");
  }

  // A cache that cannot be written (full disk, read-only) costs only caching:
  // the value stays in memory for its consumers, the run goes on, and the
  // first such failure is said once.
  void store(uint32_t id) {
    try {
      opts_.cache->store(result_.keys[id], values_[id]);
    } catch (const c10::Error& e) {
      cache_failed(id, e.what_without_backtrace());
    } catch (const std::exception& e) {
      cache_failed(id, e.what());
    }
  }
  void cache_failed(uint32_t id, const std::string& why) {
    cache_failures_.fetch_add(1);
    if (cache_warned_.exchange(true)) return;
    std::string& w = result_.nodes[id].warning;
    w += (w.empty() ? "" : "; ");
    w += "results cannot be stored in the cache (";
    w += excerpt(why, kMaxMessage);
    w += "); the run goes on without caching what it computes";
  }

  // The node's arguments as values; false (with the error recorded) when a
  // record path is missing from an input.
  bool build_args(const Node& n, std::vector<Value>& args) {
    try {
      for (auto& [k, v] : n.args) {
        Value val;
        resolve(v, val);
        args.push_back(std::move(val));
      }
      return true;
    } catch (const std::exception& e) {
      result_.nodes[n.id].error = e.what();
      return false;
    }
  }

  // Decides what each node does and loads the cache entries that are needed,
  // concurrently. A damaged entry turns its node into one that runs, which may
  // make its inputs needed in turn: plan again until nothing changes.
  void plan() {
    std::vector<char> hit = cache_hits(g_, result_.keys, opts_.cache);
    std::vector<char> loaded(g_.nodes.size());
    for (;;) {
      plan_ = plan_from_hits(g_, inputs_, hit, opts_.targets);
      std::vector<uint32_t> to_load;
      for (auto& n : g_.nodes)
        if (plan_[n.id] == NodePlan::Load && !loaded[n.id]) to_load.push_back(n.id);
      if (to_load.empty()) return;
      std::vector<char> damaged(to_load.size());
      tbb::parallel_for(size_t{0}, to_load.size(), [&](size_t i) {
        uint32_t id = to_load[i];
        std::string damage;
        auto v = opts_.cache->load(result_.keys[id], &damage);
        if (!damage.empty()) result_.nodes[id].warning = damage;
        if (v) values_[id] = std::move(*v);
        else damaged[i] = 1;
      });
      for (size_t i = 0; i < to_load.size(); ++i) {
        loaded[to_load[i]] = 1;
        if (damaged[i]) hit[to_load[i]] = 0;
      }
    }
  }

  void finish(uint32_t id) {
    const Node& n = g_.nodes[id];
    if (uses_[id].load() == 0) values_[id] = Value();  // a sink (e.g. save): nobody reads it
    if (observer_) observer_(n, result_.nodes[id]);
    // Inputs this node no longer needs are released (they stay in the cache).
    for (uint32_t in : inputs_[id])
      if (uses_[in].fetch_sub(1) == 1) values_[in] = Value();
    for (uint32_t c : consumers_[id])
      if (pending_[c].fetch_sub(1, std::memory_order_acq_rel) == 1) group_.run([this, c] { run_node(c); });
  }

  void collect_reports() {
    for (auto& r : g_.reports) {
      Value v;
      bool ok = false;
      try {
        ok = resolve(r.value, v);
      } catch (const std::exception& e) {
        ok = false;
        result_.report_errors[r.name] = std::string("could not be read: ") + excerpt(e.what(), kMaxMessage);
      }
      if (ok) result_.reports.emplace_back(r.name, v);
      else result_.missing_reports.push_back(r.name);
    }
  }

  const Graph& g_;
  const OpImpls& impls_;
  const RunOptions& opts_;
  const NodeObserver& observer_;
  std::vector<Value> values_;
  std::vector<std::atomic<int>> pending_;
  std::vector<std::atomic<int>> uses_;
  std::vector<std::vector<uint32_t>> consumers_;
  std::vector<std::vector<uint32_t>> inputs_;  // distinct input nodes of each node
  std::vector<NodePlan> plan_;
  tbb::task_group group_;
  Execution result_;
  bool measure_memory_ = false;
  std::atomic<bool> cache_warned_{false};
  std::vector<const OpSignature*> sigs_;      // each node's op, for its contracts
  std::vector<std::atomic<bool>> clean_;      // each node's output checked free of NaN and Inf
  std::atomic<size_t> cache_failures_{0};
  // Offloaded nodes: how many are out, their completions not yet finished.
  std::mutex offload_mu_;
  std::condition_variable offload_cv_;
  size_t outstanding_ = 0;
  std::vector<std::pair<uint32_t, OffloadOutcome>> completions_;
  bool cancel_sent_ = false;
  std::vector<std::chrono::steady_clock::time_point> started_;
  std::chrono::steady_clock::time_point run_started_ = std::chrono::steady_clock::now();
  std::mutex warnings_mu_;
};

}  // namespace

Execution execute(const Graph& g, const OpRegistry& ops, const OpImpls& impls, const RunOptions& options,
                  const NodeObserver& observer) {
  return Run(g, ops, impls, options, observer).run();
}

}  // namespace pipette
