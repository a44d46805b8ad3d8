"""docs/python.md's walkthrough runs as written (matplotlib drawing off screen)."""
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "python.md"


def blocks_after(heading):
    text = DOC.read_text()
    section = text[text.index(heading):]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_walkthrough_runs(project):
    matplotlib = pytest.importorskip("matplotlib", reason="the walkthrough plots with matplotlib")
    matplotlib.use("Agg")
    code = blocks_after("## A notebook-style walkthrough")[0]
    env = {}
    exec(compile(code, str(DOC), "exec"), env)
    ig, test = env["ig"], env["test"]
    assert ig.shape == test["images"].shape == (64, 1, 28, 28)
    assert env["occ"].shape == ig.shape
    assert 0.0 <= float(env["score"]) <= 1.0
