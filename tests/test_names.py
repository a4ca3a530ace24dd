"""One exercise, one place: the declaration, the notebooks and the reference agree, and no name comes back.

``ganlab.exercises.EXERCISES`` declares every exercise; the source notebooks' answer cells are
generated from the reference (``python -m ganlab_solution.notebooks``), so an answer cell edited
by hand, or a reference changed without regenerating, fails here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys

import pytest

from ganlab.answers import _run_notebook
from ganlab.exercises import (
    EXERCISES,
    JS_TWIN,
    NOTEBOOKS,
    RUN_REFERENCE_ANSWERS,
    grade_id,
    max_points,
    of_notebook,
    reference_in_kernel,
)
from ganlab.labcheck.remote import STAND_INS
from ganlab_solution.notebooks import sync

from .helpers import ROOT
from .student_notebooks import HIDDEN, SOURCE


def _cells(notebook: str) -> list[dict]:
    return json.loads((SOURCE / f"{notebook}.ipynb").read_text())["cells"]


def test_answer_cells_are_generated_from_the_reference_and_drift_fails_the_check(tmp_path):
    assert sync(SOURCE, write=False) == []
    # The check can fail: hand edits of two answer cells are reported (on a copy of the notebooks).
    shutil.copytree(SOURCE, tmp_path, dirs_exist_ok=True)
    notebook = json.loads((tmp_path / "02_critic.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if grade_id(c) == "cblock")
    cell["source"][-1] += "  # edited by hand"
    (tmp_path / "02_critic.ipynb").write_text(json.dumps(notebook, indent=1))
    generation, line = tmp_path / "06_generation.ipynb", "alpha = torch.linspace(0, 1, steps)"
    generation.write_text(generation.read_text().replace(line, line.replace("steps)", "steps + 0)")))
    assert [d.exercise.number for d in sync(tmp_path, write=False)] == ["2.2", "6.2"]
    command = [sys.executable, "-m", "ganlab_solution.notebooks", "--check", "--folder", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1
    assert "06_generation.ipynb, cell line_latents (exercise 6.2)" in result.stdout
    assert "python -m ganlab_solution.notebooks" in result.stderr
    assert sync(tmp_path) and sync(tmp_path, write=False) == []  # regenerating repairs it


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_cells_and_points_follow_the_declaration(notebook: str):
    """Grade ids, points and the notebook's own table of exercises are those of the declaration."""
    cells = {c["metadata"]["nbgrader"]["grade_id"]: c for c in _cells(notebook) if "nbgrader" in c["metadata"]}
    graded = {
        gid: c["metadata"]["nbgrader"].get("points") for gid, c in cells.items() if c["metadata"]["nbgrader"]["grade"]
    }
    declared = {e.test_id: e.points for e in of_notebook(notebook)}
    assert graded == declared
    for exercise in of_notebook(notebook):
        if exercise.answer_id:
            assert cells[exercise.answer_id]["metadata"]["nbgrader"]["solution"], exercise.number
    table = "".join(_cells(notebook)[0]["source"])
    rows = re.findall(r"^\| (\d\.\d) \| .*? \| (\d+) \|$", table, re.MULTILINE)
    assert [(n, float(p)) for n, p in rows] == [(e.number, e.points) for e in of_notebook(notebook)]
    assert sum(float(p) for _, p in rows) == max_points(notebook)


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.reference], ids=lambda e: e.number)
def test_declared_objects_exist_and_are_used(exercise):
    """The reference object, the hidden checks and the page exist; the test cell calls the checks, or names those the
    grader runs outside the kernel (autograder/judge.py calls them as check(student, reference))."""
    module, name = exercise.reference.split(":")
    assert hasattr(importlib.import_module(exercise.reference_module), name)
    test_cell = next("".join(c["source"]) for c in _cells(exercise.notebook) if grade_id(c) == exercise.test_id)
    assert exercise.hidden, f"{exercise.number}: declare its hidden checks"
    for check in exercise.hidden:
        module_name, function = check.split(":")
        found = getattr(importlib.import_module(f"ganlab_solution.{module_name}"), function)
        assert callable(found)
        if exercise.outside:
            assert check in test_cell and f"_hidden.{function}" not in test_cell, (exercise.number, function)
            required = [p for p in inspect.signature(found).parameters.values() if p.default is p.empty]
            assert len(required) == 2, f"{function}: the grader calls it as {function}(student, reference)"
        else:
            assert re.search(rf"_hidden\.{function}[(,]", test_cell), (exercise.number, function)
    assert set(exercise.stand_ins) <= set(STAND_INS), exercise.stand_ins
    assert (ROOT / exercise.page).is_file(), exercise.page
    assert (ROOT / JS_TWIN).is_file()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_reference_reaches_only_the_kernels_that_need_it(notebook: str):
    """A notebook that runs reference answers when graded is declared so; the others' kernels cannot import the
    reference (the sandbox hides it), so none of their cells names it. Hidden tests judged outside the kernel
    import nothing of it but the tripwire."""
    code = [HIDDEN.sub("", "".join(c["source"])) for c in _cells(notebook) if c["cell_type"] == "code"]
    runs = [source for source in code if "load_answers(" in source or "labcheck.isolated(" in source]
    assert not runs or notebook in RUN_REFERENCE_ANSWERS, f"{notebook} runs reference answers: declare it"
    for cell in _cells(notebook):
        text = "".join(cell["source"])
        if not reference_in_kernel(notebook):
            assert "ganlab_solution" not in text, (notebook, text[:80])
        outside = [e for e in of_notebook(notebook) if e.outside and e.test_id == grade_id(cell)]
        imports = re.findall(r"^(?:from|import) ganlab_solution.*$", text, re.MULTILINE)
        assert not outside or set(imports) <= {"from ganlab_solution import labcheck as _hidden"}, imports


def test_source_notebooks_pass_their_own_visible_tests(monkeypatch):
    """The loader students use finds every declared answer in the source notebooks, and none fails."""
    monkeypatch.chdir(SOURCE)  # notebooks load the answers of their neighbours from their own folder
    for notebook in NOTEBOOKS:
        loaded = _run_notebook(SOURCE / f"{notebook}.ipynb")
        assert not loaded.problems, (notebook, loaded.problems)
        for exercise in of_notebook(notebook):
            for name in exercise.names:
                assert name in loaded.namespace, (notebook, name)


RETIRED = [
    "build_optimizers",
    "score_generator_loss",
    "run_generator",
    "critic_output_size",
    "to_uint8_images",
    "dynamic_axes",
    "._batches(",
    "One-sided label smoothing",
    "from_networks",
    "ganlab_solution.answers",
]


def test_retired_names_are_gone():
    """Names that once meant the same as a notebook's name (or described the lab wrongly) appear nowhere."""
    patterns = [f"*.{suffix}" for suffix in ("py", "md", "ipynb", "sh", "yml", "yaml", "js")]
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    hits = []
    for relative in sorted(set(listed.stdout.split()) - {"tests/test_names.py"}):
        text = (ROOT / relative).read_text(errors="ignore")
        hits += [f"{relative}: {name}" for name in RETIRED if re.search(rf"(?<![\w]){re.escape(name)}", text)]
    assert not hits, hits
