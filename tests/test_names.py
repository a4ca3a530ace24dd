"""One name per concept: every answer of the notebooks has the reference's name, signature, defaults and layers.

The notebooks' answer cells are run by the student package's own loader (``ganlab.answers``) on
the source notebooks, then compared with the reference package's object of the same name.
Retired names of earlier versions must not come back anywhere in the kit.
"""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import pytest
import torch

from ganlab.answers import EXERCISES, _run_notebook
from ganlab_solution.answers import reference

from .helpers import ROOT

SOURCE = ROOT / "notebooks" / "ganlab"
# How the lab builds each network, to compare parameter names and shapes.
LAB_NETWORKS = {
    "CBlock": ((1, 32, 0.3), {}),
    "GBlock": ((256, 128), {}),
    "Discriminator": (((1, 28, 28), 0.5, 32, 0.1, 2), {}),
    "Generator": (((1, 28, 28), 100, 256), {}),
    "GAN": (((1, 28, 28),), {}),
}
CASES = [(notebook, name) for notebook, names in EXERCISES.items() for name in names]


@pytest.fixture(scope="module")
def notebook_answers() -> dict[str, dict]:
    cwd = Path.cwd()
    try:
        import os

        os.chdir(SOURCE)  # notebooks load the answers of their neighbours from their own folder
        return {notebook: _run_notebook(SOURCE / f"{notebook}.ipynb") for notebook in EXERCISES}
    finally:
        os.chdir(cwd)


def same_parameters(notebook_fn, reference_fn, what: str) -> None:
    """The notebook's parameters, in order, with the same kinds and defaults; the reference may only add
    keyword-only parameters that have defaults, or ``**options`` (options of the instructor's trainer)."""
    mine = list(inspect.signature(notebook_fn).parameters.values())
    theirs = list(inspect.signature(reference_fn).parameters.values())
    assert [(p.name, p.kind, p.default) for p in mine] == [(p.name, p.kind, p.default) for p in theirs[: len(mine)]], (
        what,
        str(inspect.signature(notebook_fn)),
        str(inspect.signature(reference_fn)),
    )
    for extra in theirs[len(mine) :]:
        optional = extra.kind == inspect.Parameter.KEYWORD_ONLY and extra.default is not inspect.Parameter.empty
        assert optional or extra.kind == inspect.Parameter.VAR_KEYWORD, (
            what,
            extra,
        )


@pytest.mark.parametrize(("notebook", "name"), CASES)
def test_each_answer_matches_the_reference(notebook_answers, notebook: str, name: str):
    loaded = notebook_answers[notebook]
    assert not loaded.problems, loaded.problems  # the source notebooks' own visible tests pass
    mine, theirs = loaded.namespace[name], reference(name)
    assert type(mine) is type(theirs) or (inspect.isclass(mine) and inspect.isclass(theirs)), (name, mine, theirs)
    if inspect.isclass(mine):
        for method in ("__init__", "forward"):
            same_parameters(getattr(mine, method), getattr(theirs, method), f"{name}.{method}")
        args, kwargs = LAB_NETWORKS[name]
        torch.manual_seed(0)
        mine_state = {k: tuple(v.shape) for k, v in mine(*args, **kwargs).state_dict().items()}
        theirs_state = {k: tuple(v.shape) for k, v in theirs(*args, **kwargs).state_dict().items()}
        assert mine_state == theirs_state, (name, sorted(set(mine_state) ^ set(theirs_state))[:6])
    else:
        same_parameters(mine, theirs, name)


RETIRED = [
    "build_optimizers",
    "score_generator_loss",
    "run_generator",
    "critic_output_size",
    "to_uint8_images",
    "dynamic_axes",
    "._batches(",
    "One-sided label smoothing",
]


def test_retired_names_are_gone():
    """Names that once meant the same as a notebook's name (or described the lab wrongly) appear nowhere."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    hits = []
    for relative in files:
        path = ROOT / relative
        if (
            path.suffix not in (".py", ".md", ".ipynb", ".sh", ".yml", ".yaml", ".js")
            or relative == "tests/test_names.py"
        ):
            continue
        text = path.read_text(errors="ignore")
        hits += [f"{relative}: {name}" for name in RETIRED if re.search(rf"(?<![\w]){re.escape(name)}", text)]
    assert not hits, hits
