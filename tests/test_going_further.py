"""The going-further notebook runs top to bottom (short runs) and the diagnostics measure collapse."""

from __future__ import annotations

import os

import nbformat
import pytest
import torch

from ganlab.diagnostics import diversity_ratio, mean_pairwise_distance

from .helpers import ROOT, execute_notebook, notebook_stream

NOTEBOOK = ROOT / "notebooks" / "going_further" / "08_scaling_up.ipynb"


def test_diversity_ratio_separates_collapse_from_spread():
    real = torch.rand(32, 1, 8, 8) * 2 - 1
    collapsed = real[:1].repeat(32, 1, 1, 1) + 0.01 * torch.randn(32, 1, 8, 8)
    assert diversity_ratio(collapsed, real) < 0.1
    assert 0.8 < diversity_ratio(torch.rand(32, 1, 8, 8) * 2 - 1, real) < 1.2
    with pytest.raises(ValueError):
        mean_pairwise_distance(real[:1])


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.dataset
@pytest.mark.training
def test_going_further_notebook_executes(monkeypatch):
    monkeypatch.setenv("GANLAB_FAST", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = execute_notebook(NOTEBOOK, timeout=600)
    printed = notebook_stream(nb)
    assert "256 images in" in printed  # GANLAB_FAST: the small folder, 3 steps a run
    assert "hinge + SN" in printed and "diversity ratio" in printed
    assert any(o.get("output_type") == "display_data" for c in nb.cells for o in c.get("outputs", []))
