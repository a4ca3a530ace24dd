"""A slow machine never breaks the site's build: ``book/demos/training.md`` trains for 300 steps or
``GANLAB_DEMO_BUDGET_S`` seconds, whichever comes first, then runs to its end and says where it stopped."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .helpers import ROOT, execute_notebook, notebook_stream

PAGE = ROOT / "book" / "demos" / "training.md"

pytestmark = pytest.mark.slow


def _page_notebook() -> nbformat.NotebookNode:
    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(cells) >= 4, "the training page's code cells were not found"
    # A cell's MyST options (":tags: [remove-cell]") are the page's, not code.
    cells = [re.sub(r"\A(?::[\w-]+:.*\n)+", "", code) for code in cells]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])


def test_the_training_demo_stops_at_its_budget_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLAB_DEMO_BUDGET_S", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    printed = notebook_stream(execute_notebook(_page_notebook(), timeout=300, cwd=tmp_path))
    match = re.search(r"stopped at step (\d+) of (\d+): this machine used up the build's budget of 2 s", printed)
    assert match, printed[-2000:]
    assert 1 <= int(match.group(1)) < int(match.group(2)) == 300
    # The rest of the page ran on the shorter run: the diagnosis and the classifier's verdict.
    assert "recognised with confidence" in printed
