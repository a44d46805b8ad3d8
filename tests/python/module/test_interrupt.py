"""The GIL is released while pipette computes, and Ctrl-C stops a run cleanly."""
import json
import signal
import subprocess
import sys
import threading
import time

import pipette
import torch

from conftest import write

LONG = '''let m = model.load("net.pt")
let x = tensor.random([32, 1, 8, 8], seed=1)
report "ig" = attr.integrated_gradients(m, x, target=0, steps=STEPS)
'''


def long_script(project, net, steps):
    torch.jit.script(net).save(str(project / "net.pt"))
    return write(project / "long.pipe", LONG.replace("STEPS", str(steps)))


def test_other_python_threads_run_meanwhile(project, net):
    script = long_script(project, net, 20000)
    done = {}

    def work():
        started = time.monotonic()
        done["result"] = pipette.run(script, cache=False)
        done["seconds"] = time.monotonic() - started

    t = threading.Thread(target=work)
    t.start()
    ticks = 0
    while t.is_alive():
        ticks += 1
        time.sleep(0.001)
    t.join()
    assert done["result"].ok and done["seconds"] > 0.5
    # With the GIL held for the run, this thread would not have run at all.
    assert ticks > 0.3 * done["seconds"] * 1000 / 2, (ticks, done["seconds"])


CHILD = r'''
import json, sys, time, pipette
try:
    pipette.run(sys.argv[1], cache=False, out=sys.argv[2])
    print("finished")
except KeyboardInterrupt:
    print("interrupted", json.load(open(sys.argv[2] + "/report.json"))["run"]["status"], flush=True)
'''


def test_ctrl_c_stops_a_run_and_it_is_recorded(project, net):
    script = long_script(project, net, 2_000_000)  # minutes, unless stopped
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(script), str(project / "out")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # imported, compiled, computing
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert time.monotonic() - sent < 20, "the run did not stop promptly"
    assert out.strip() == "interrupted interrupted", (out, err)
    report = json.loads((project / "out" / "report.json").read_text())
    assert report["run"]["status"] == "interrupted"
    assert "ig" not in report["reports"]


def test_op_calls_report_progress(net, images):
    seen = []
    pipette.ops.attr.integrated_gradients(net, images, target=0, steps=4000,
                                          progress=lambda done, total: seen.append((done, total)))
    assert seen and all(d <= t for d, t in seen)
