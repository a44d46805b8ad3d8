#include "interruptible.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace pipette::python {

namespace {

// Threads that outlive a call: LibTorch's intra-op thread count is per thread
// (OpenMP's), so a fresh thread per call made the executor set it again on
// every call, and each set rebuilds LibTorch's global pthreadpool, whose new
// threads spin for milliseconds (perf: 76 % of a trivial op call's time, 8 ms).
class Workers {
 public:
  void run(std::function<void()> task) {
    Worker* w = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        w = idle_.back();
        idle_.pop_back();
      }
    }
    if (!w) w = new Worker(this);  // kept for the life of the process
    w->start(std::move(task));
  }

 private:
  struct Worker {
    explicit Worker(Workers* home) : home(home), thread([this] { loop(); }) { thread.detach(); }
    void start(std::function<void()> t) {
      std::lock_guard<std::mutex> lock(mu);
      task = std::move(t);
      cv.notify_all();
    }
    void loop() {
      for (;;) {
        std::function<void()> t;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return static_cast<bool>(task); });
          t = std::move(task);
          task = nullptr;
        }
        t();
        std::lock_guard<std::mutex> lock(home->mu_);
        home->idle_.push_back(this);
      }
    }
    Workers* home;
    std::mutex mu;
    std::condition_variable cv;
    std::function<void()> task;
    std::thread thread;
  };
  std::mutex mu_;
  std::vector<Worker*> idle_;
};

Workers& workers() {
  static auto* w = new Workers;
  return *w;
}

}  // namespace

std::optional<py::error_already_set> run_interruptibly(const std::function<void()>& work, std::atomic<bool>& cancel,
                                                       const std::function<void()>& tick) {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::exception_ptr failure;
  workers().run([&] {
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  });
  bool interrupted = false;
  std::optional<py::error_already_set> pending;  // the KeyboardInterrupt (or a handler's own error)
  for (;;) {
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return finished; })) break;
    }
    if (!interrupted && PyErr_CheckSignals() != 0) {
      interrupted = true;
      cancel.store(true);
      pending.emplace();  // taken off the interpreter until the work has stopped
    }
    if (tick) {
      try {
        tick();
      } catch (py::error_already_set&) {
        // a progress bar that fails does not stop the run
      }
    }
  }
  if (tick) {
    try {
      tick();
    } catch (py::error_already_set&) {
    }
  }
  if (failure && !interrupted) std::rethrow_exception(failure);
  return pending;
}

}  // namespace pipette::python
