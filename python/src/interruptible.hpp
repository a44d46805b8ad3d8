// Long pipette work called from Python: it runs on a thread of its own with
// the GIL released, so other Python threads go on, while the calling thread
// wakes every 50 ms to let Python run its signal handlers (Ctrl-C) and to
// draw progress. A KeyboardInterrupt sets `cancel` (nodes not started are
// cancelled, running ones stop at their next check), waits for the work to
// stop, and is handed back to the caller, who records the run and raises it.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <functional>
#include <optional>

namespace pipette::python {

namespace py = pybind11;

// Needs the GIL; returns with it. Rethrows what `work` threw; returns the
// interrupt (KeyboardInterrupt), if there was one, for the caller to raise.
std::optional<py::error_already_set> run_interruptibly(const std::function<void()>& work, std::atomic<bool>& cancel,
                                                       const std::function<void()>& tick = {});

}  // namespace pipette::python
