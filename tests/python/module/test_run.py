"""pipette.run: what `pipette run` does, with the results as Python values."""
import json

import pipette
import pytest
import torch

from conftest import write

SCRIPT = '''param k: float = 2.0
let x = tensor.load("x.pt")
report "doubled" = tensor.mul(x, k)
report "stats" = {total: tensor.sum(x), k: k, name: "run"}
report "flags" = tensor.gt(x, 2.5)
save(tensor.add(x, 1.0), "plus_one.pt")
'''


def test_a_run_gives_its_reports_as_python_values(project):
    x = torch.arange(6.0).view(2, 3)
    torch.save(x, project / "x.pt")
    write(project / "s.pipe", SCRIPT)
    r = pipette.run(project / "s.pipe", params={"k": 3.0})
    assert r.ok and r.status == "ok"
    assert torch.equal(r.reports["doubled"], x * 3)
    assert r.reports["stats"] == {"total": 15.0, "k": 3.0, "name": "run"}
    assert r.reports["flags"].dtype == torch.bool and torch.equal(r.reports["flags"], x > 2.5)
    assert r.out == project / "runs" / r.run_id and r.run_id.startswith("s-")
    report = json.loads(r.report.read_text())
    assert report["run"]["status"] == "ok" and report["run"]["id"] == r.run_id and report["run"]["params"] == {"k": 3.0}
    assert torch.equal(torch.load(r.out / "plus_one.pt"), x + 1)
    page = r.html.read_text()  # report.html beside report.json: every report, a row per node
    assert r.html == r.out / "report.html"
    assert all(f"<tr class=report><th>{name}</th>" in page for name in ["doubled", "stats", "flags"])
    assert page.count("<tr class=node>") == len(r.nodes)
    assert {n["op"] for n in r.nodes} >= {"tensor.load", "tensor.mul", "save"}
    assert all(n["status"] == "done" for n in r.nodes)
    # Again: every value from the cache; only the file is written again, into the new directory.
    again = pipette.run(project / "s.pipe", params={"k": 3.0}, out=project / "second")
    assert [n["op"] for n in again.nodes if not n["cached"] and n["status"] == "done"] == ["save"]
    assert again.counts["cached"] > 0
    assert torch.equal(again.reports["doubled"], x * 3)
    assert again.out == project / "second"


def test_a_failing_node_raises_with_its_line_and_keeps_what_was_computed(project):
    torch.save(torch.ones(3), project / "x.pt")
    write(project / "f.pipe", 'let x = tensor.load("x.pt")\nreport "fine" = tensor.mul(x, 2.0)\n'
                              'report "bad" = tensor.load("missing.pt")\n')
    with pytest.raises(pipette.Error) as e:
        pipette.run(project / "f.pipe")
    err = e.value
    assert (err.line, err.op) == (3, "tensor.load") and err.file.endswith("f.pipe")
    assert isinstance(err.node, int) and "missing.pt" in str(err)
    assert err.result.status == "failed"
    assert torch.equal(err.result.reports["fine"], torch.full((3,), 2.0))
    assert json.loads(err.result.report.read_text())["run"]["status"] == "failed"


def test_a_script_that_does_not_compile_raises_its_diagnostics(project):
    write(project / "bad.pipe", 'report "a" = tensor.mul(1.0, 2.0, stesp=3)\n')
    with pytest.raises(pipette.Error) as e:
        pipette.run(project / "bad.pipe")
    assert (e.value.line, e.value.column) == (1, 35)
    assert "'tensor.mul' has no parameter 'stesp'" in str(e.value)
    assert not (project / "runs").exists()  # nothing was run


def test_bad_arguments_are_refused_before_anything_runs(project):
    write(project / "s.pipe", 'report "a" = 1\n')
    (project / "theirs").mkdir()
    (project / "theirs" / "keep.txt").write_text("mine")
    with pytest.raises(pipette.Error, match="not an earlier pipette run"):
        pipette.run(project / "s.pipe", out=project / "theirs")
    assert (project / "theirs" / "keep.txt").read_text() == "mine"
    with pytest.raises(TypeError, match="params are constants"):
        pipette.run(project / "s.pipe", params={"x": torch.ones(2)})
    with pytest.raises(TypeError, match="takes the path of a script"):
        pipette.run('report "a" = 1\nreport "b" = 2\n')
    if not torch.cuda.is_available():
        with pytest.raises(pipette.Error, match="no CUDA device"):
            pipette.run(project / "s.pipe", device="cuda")


def test_no_cache_and_progress(project):
    write(project / "s.pipe", 'report "a" = tensor.sum(tensor.random([4], seed=2))\n')
    seen = []
    r = pipette.run(project / "s.pipe", cache=False, progress=lambda done, total: seen.append((done, total)))
    assert r.counts["computed"] == 2 and not (project / ".pipette" / "cache").exists()
    assert seen and seen[-1] == (2, 2)
