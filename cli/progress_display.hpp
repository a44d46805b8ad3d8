// What `pipette run` shows while it works. On a terminal: one live line per
// running node (op, source line, a bar with items/s and ETA when the op reports
// progress, elapsed time otherwise) under a summary line, redrawn ten times a
// second; messages print above it. Elsewhere (a pipe, a CI log): plain lines,
// one per finished node at -v, and progress every 10% of a long op.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "engine/executor.hpp"

namespace pipette::cli {

class ProgressDisplay {
 public:
  ProgressDisplay(size_t total_nodes, bool live);
  ~ProgressDisplay();  // stops the redraw thread and clears the live lines

  void node_event(const Node& n, const NodeOutcome& o);        // executor observer
  void node_progress(const Node& n, uint64_t done, uint64_t total);
  void message(const std::string& text);  // a line for stderr, kept above the live area

 private:
  struct Running {
    std::string label;
    std::chrono::steady_clock::time_point started;
    uint64_t done = 0, total = 0;
    int last_decile = -1;
  };
  void redraw_loop();
  void clear_locked();
  void draw_locked();
  std::string line_for(const Running& r, std::chrono::steady_clock::time_point now) const;

  size_t total_;
  bool live_;
  size_t finished_ = 0, cached_ = 0, failed_ = 0;
  std::map<uint32_t, Running> running_;
  size_t drawn_lines_ = 0;
  int width_ = 100;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pipette::cli
