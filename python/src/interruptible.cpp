#include "interruptible.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace pipette::python {

std::optional<py::error_already_set> run_interruptibly(const std::function<void()>& work, std::atomic<bool>& cancel,
                                                       const std::function<void()>& tick) {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::exception_ptr failure;
  std::thread worker([&] {
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
  worker.join();
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
