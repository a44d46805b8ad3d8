#include "cli/progress_display.hpp"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace pipette::cli {

namespace {

std::string duration_text(double s) {
  if (s < 10) return fmt::format("{:.1f}s", s);
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{:.0f}m{:02.0f}s", s / 60 - 0.5, std::fmod(s, 60.0));
  return fmt::format("{:.0f}h{:02.0f}m", s / 3600 - 0.5, std::fmod(s / 60, 60.0));
}

}  // namespace

ProgressDisplay::ProgressDisplay(size_t total_nodes, bool live) : total_(total_nodes), live_(live) {
  if (!live_) return;
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) width_ = ws.ws_col;
  thread_ = std::thread([this] { redraw_loop(); });
}

ProgressDisplay::~ProgressDisplay() {
  if (!live_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  clear_locked();
  std::fflush(stderr);
}

void ProgressDisplay::node_event(const Node& n, const NodeOutcome& o) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (o.status == NodeOutcome::Status::Pending) {
    Running r;
    r.label = fmt::format("n{} {} ({}:{})", n.id, n.op, n.loc.file.substr(n.loc.file.rfind('/') + 1), n.loc.line);
    r.started = std::chrono::steady_clock::now();
    running_[n.id] = std::move(r);
    return;
  }
  running_.erase(n.id);
  ++finished_;
  cached_ += o.cached;
  failed_ += o.status == NodeOutcome::Status::Failed;
  if (o.status == NodeOutcome::Status::Done && spdlog::should_log(spdlog::level::info)) {
    std::string line = fmt::format("[{}/{}] n{} {} ({}:{}) {}", finished_, total_, n.id, n.op, n.loc.file, n.loc.line,
                                   o.cached ? std::string("from cache") : fmt::format("{:.3f} s", o.seconds));
    if (o.peak_bytes > 0) line += fmt::format(", peak +{:.1f} MiB", o.peak_bytes / 1048576.0);
    clear_locked();
    spdlog::info("{}", line);
  }
}

void ProgressDisplay::node_progress(const Node& n, uint64_t done, uint64_t total) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = running_.find(n.id);
  if (it == running_.end()) return;
  it->second.done = done;
  it->second.total = total;
  if (!live_ && total > 0) {  // plain mode: a line every 10%
    int decile = static_cast<int>(10 * done / total);
    if (decile != it->second.last_decile && decile > 0) {
      it->second.last_decile = decile;
      spdlog::info("{}: {}/{} ({}%)", it->second.label, done, total, decile * 10);
    }
  }
}

void ProgressDisplay::message(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  clear_locked();
  std::fputs(text.c_str(), stderr);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stderr);
}

void ProgressDisplay::redraw_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    clear_locked();
    draw_locked();
    std::fflush(stderr);
    wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; });
  }
}

void ProgressDisplay::clear_locked() {
  if (!live_ || drawn_lines_ == 0) return;
  // Up to the first live line, then clear to the end of the screen.
  std::fprintf(stderr, "\r\x1b[%zuA\x1b[J", drawn_lines_);
  drawn_lines_ = 0;
}

void ProgressDisplay::draw_locked() {
  auto now = std::chrono::steady_clock::now();
  std::string out = fmt::format("\x1b[1m[{}/{} nodes]\x1b[0m {} running, {} from cache{}\n", finished_, total_,
                                running_.size(), cached_, failed_ ? fmt::format(", {} failed", failed_) : "");
  size_t lines = 1, shown = 0;
  for (auto& [id, r] : running_) {
    if (++shown > 12) {  // a wide graph: keep the screen readable
      out += fmt::format("  ... and {} more\n", running_.size() - 12);
      ++lines;
      break;
    }
    out += line_for(r, now) + "\n";
    ++lines;
  }
  std::fputs(out.c_str(), stderr);
  drawn_lines_ = lines;
}

std::string ProgressDisplay::line_for(const Running& r, std::chrono::steady_clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - r.started).count();
  std::string label = r.label;
  size_t label_width = static_cast<size_t>(std::max(20, width_ / 2 - 4));
  if (label.size() > label_width) label = label.substr(0, label_width - 3) + "...";
  if (r.total == 0) return fmt::format("  {:<{}} {}", label, label_width, duration_text(elapsed));
  double frac = std::min(1.0, static_cast<double>(r.done) / static_cast<double>(r.total));
  int bar = std::max(10, width_ - static_cast<int>(label_width) - 40);
  int filled = static_cast<int>(frac * bar);
  double rate = elapsed > 0 ? r.done / elapsed : 0;
  std::string eta = rate > 0 ? duration_text((r.total - r.done) / rate) : "?";
  return fmt::format("  {:<{}} [{}{}] {}/{} {:.1f}/s ETA {}", label, label_width, std::string(filled, '#'),
                     std::string(bar - filled, '-'), r.done, r.total, rate, eta);
}

}  // namespace pipette::cli
