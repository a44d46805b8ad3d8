"""Shared pieces of the Python module's tests: a project directory per test
(so the cache, run store and runs/ stay inside it) and a small model."""
import os

import pytest
import torch


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project of its own: pipette's .pipette/ and runs/ go here."""
    (tmp_path / ".pipette").mkdir()
    (tmp_path / ".git").mkdir()  # the project search stops here
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def net():
    """A small CNN in eval mode, deterministic weights."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.rand(6, 1, 8, 8)


def write(path, text):
    path.write_text(text)
    return path


def peers_python_note():
    return os.environ.get("PIPETTE_PEERS_NOTE", "")
