"""A small class graded as SLURM array tasks and merged: the grades the catalogue declares. The grading round
(test_grading.py) grades the whole catalogue with ``grade_class.py --jobs 2``; this class adds what the round has not:
the SLURM shards and their merge, a student with two notebooks, a notebook that is not even JSON, and a second run
that grades only what changed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grading_round as gr
import nbformat
import pytest

from .helpers import AUTOGRADER

CORRUPT = "zz_corrupt"
# One student per kind of hand-in the run must keep apart: right, blank, wrong, two notebooks, a kernel killed.
CLASS_CASES = ("01_no_clamp", "02_kernel_exit", "02_one_logit")


def build_class(release: Path) -> tuple[dict[str, dict[str, nbformat.NotebookNode]], dict[str, dict[str, dict]]]:
    """student id -> {notebook: submitted notebook}, and student id -> {notebook: points lost by test cell}.

    A blank hand-in's losses are ``None``: it loses every point.
    """
    cases = {case.name: case for case in gr.load_cases() if case.name in (*CLASS_CASES, "02_bias_before_batchnorm")}

    def answered(notebook: str, cells: dict | None = None, delete: tuple = ()) -> nbformat.NotebookNode:
        return gr.fill(release / f"{notebook}.ipynb", {**gr.reference_answers(notebook), **(cells or {})}, delete)

    bias = cases["02_bias_before_batchnorm"]
    students = {
        "reference_01": {"01_data": answered("01_data")},
        "blank_02": {"02_critic": nbformat.read(release / "02_critic.ipynb", as_version=4)},
        "pair_mixed": {"01_data": answered("01_data"), "02_critic": answered("02_critic", bias.cells)},
    }
    lost = {
        "reference_01": {"01_data": {}},
        "blank_02": {"02_critic": None},
        "pair_mixed": {"01_data": {}, "02_critic": bias.expect_lost},
    }
    for name in CLASS_CASES:
        case = cases[name]
        students[gr.student_id(name)] = {case.notebook: answered(case.notebook, case.cells, tuple(case.delete))}
        lost[gr.student_id(name)] = {case.notebook: case.expect_lost}
    return students, lost


def scores(folder: Path, skip: set[str] = frozenset()) -> dict[tuple[str, str, str], tuple]:
    """(student, notebook, cell) -> (auto score, manual score, extra credit, max score) for every graded cell."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
        return {
            (student.id, notebook.name, grade.name): (
                grade.auto_score,
                grade.manual_score,
                grade.extra_credit,
                grade.max_score,
            )
            for student in gradebook.students
            if student.id not in skip
            for submission in student.submissions
            for notebook in submission.notebooks
            for grade in notebook.grades
        }


def declared(graded: dict[tuple[str, str, str], tuple], lost: dict[str, dict[str, dict]]) -> dict[tuple, tuple]:
    """``graded`` with each auto score replaced by what the catalogue declares: the maximum less the points lost."""
    expected = {}
    for (student, notebook, cell), (auto, manual, extra, most) in graded.items():
        losses = lost[student].get(notebook)  # a notebook not handed in scores as a blank one
        if auto is not None:  # an autograded cell (a hand-graded one has no auto score)
            auto = 0.0 if losses is None else most - losses.get(cell, 0)
        expected[(student, notebook, cell)] = (auto, manual, extra, most)
    return expected


def command(folder: Path, *args: str) -> list[str]:
    return [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(folder), *args]


def script(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(folder, *args), capture_output=True, text=True, env=env, check=False)


def fake_graders(monkeypatch: pytest.MonkeyPatch, *codes: str) -> list[str]:
    """Grading processes that run ``codes`` in turn (the last for every later start); the codes started."""
    import grade_class

    started: list[str] = []

    def start(self: grade_class.Grader) -> subprocess.Popen:
        started.append(codes[min(len(started), len(codes) - 1)])
        return subprocess.Popen(
            [sys.executable, "-c", started[-1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    monkeypatch.setattr(grade_class.Grader, "_start", start)
    return started


def answering(result: dict) -> str:
    """A grading process's code that answers ``result`` for every student."""
    return f"import json, sys\nfor _ in sys.stdin: print(json.dumps({result!r}), flush=True)"


@pytest.fixture(scope="module")
def class_graded(released: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The class graded as on SLURM: two array tasks run as plain processes at the same time, then the merge."""
    course = released(tmp_path_factory.mktemp("class") / "course")
    students, lost = build_class(course / "release" / gr.ASSIGNMENT)
    for student, notebooks in students.items():
        gr.submit(course, student, notebooks)
    corrupt = course / "submitted" / CORRUPT / gr.ASSIGNMENT / "01_data.ipynb"
    corrupt.parent.mkdir(parents=True, exist_ok=True)
    corrupt.write_text("this is not a notebook")
    tasks = [
        subprocess.Popen(
            command(course, "--shard", f"{i}/2"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for i in range(2)
    ]
    tasks_output = "".join(task.communicate()[0] for task in tasks)
    merged = script(course, "--merge")
    return {"students": students, "lost": lost, "course": course, "tasks": tasks_output, "merged": merged}


@pytest.mark.slow
@pytest.mark.grading
def test_slurm_array_tasks_and_merge_give_the_declared_grades(class_graded: dict) -> None:
    graded = scores(class_graded["course"], {CORRUPT})
    assert set(student for student, _, _ in graded) == set(class_graded["students"]), class_graded["tasks"]
    assert graded == declared(graded, class_graded["lost"])
    totals: dict[str, float] = {}
    for (student, _, _), (auto, manual, extra, _) in graded.items():
        totals[student] = totals.get(student, 0) + (manual if manual is not None else auto or 0) + (extra or 0)
    exported = gr.exported_scores(class_graded["course"])
    assert {student: exported[student] for student in totals} == pytest.approx(totals)
    # The class is not trivial: some students lost points, some got everything.
    assert totals["reference_01"] == 4 and totals["blank_02"] == 0 and 4 < totals["pair_mixed"] < 12


@pytest.mark.slow
@pytest.mark.grading
def test_a_crashing_student_is_reported_and_stops_nobody(class_graded: dict) -> None:
    merged = class_graded["merged"]
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert f"merged {len(class_graded['students'])} students" in merged.stdout
    assert f"failed {CORRUPT}: nbgrader autograde failed" in merged.stdout, merged.stdout
    # The kernel killed by os._exit is named with its notebook and cell, by the task that graded it.
    assert "case_02_kernel_exit: 02_critic: cell cblock" in class_graded["tasks"], class_graded["tasks"]


@pytest.mark.slow
@pytest.mark.grading
def test_only_new_or_changed_submissions_are_graded_again(class_graded: dict) -> None:
    course = class_graded["course"]
    listed = script(course, "--list")
    assert listed.stdout.split() == [CORRUPT], "an unchanged, graded student would be graded again"
    path = course / "submitted" / "reference_01" / gr.ASSIGNMENT / "01_data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("handed in again"))
    nbformat.write(nb, path)
    assert script(course, "--list").stdout.split() == ["reference_01", CORRUPT]
    assert len(script(course, "--list", "--force").stdout.split()) == len(class_graded["students"]) + 1


@pytest.mark.grading
def test_bad_shard_argument_is_one_clear_error(released: Callable[[Path], Path], tmp_path: Path) -> None:
    course = released(tmp_path / "course")
    done = script(course, "--shard", "2/2")
    assert done.returncode != 0 and "error: --shard '2/2' must be I/N" in done.stderr
    empty = script(tmp_path / "nowhere")
    assert empty.returncode != 0 and "error:" in empty.stderr and "make release" in empty.stderr


def test_a_dead_grading_process_costs_its_student_only(tmp_path: Path, monkeypatch) -> None:
    """A worker process that dies is reported against the student it had, and a new one grades the next."""
    import grade_class

    dying = "import sys; sys.stdin.readline(); sys.exit(7)"
    started = fake_graders(monkeypatch, dying, answering({"ok": False, "reason": "graded"}))
    grader = grade_class.Grader(grade_class.Course(tmp_path), tmp_path / "shard_0.db", None)
    first, second = grader.grade("alice"), grader.grade("bob")
    grader.close()
    assert not first.ok and "the grading process died (exit code 7) on this student" in first.reason
    assert (second.student, second.reason) == ("bob", "graded") and len(started) == 2


@pytest.mark.slow
@pytest.mark.grading
def test_a_machine_whose_kernels_lack_the_course_grades_nobody(
    released: Callable[[Path], Path], tmp_path: Path, course_package_missing: Path
) -> None:
    """The run stops before the first student, with one error line, and every student stays pending."""
    course = released(tmp_path / "course")
    release = course / "release" / gr.ASSIGNMENT / "01_data.ipynb"
    gr.submit(course, "alice", {"01_data": nbformat.read(release, as_version=4)})
    done = script(course, "--jobs", "1", env={**os.environ, "PYTHONPATH": str(course_package_missing)})
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: a grading kernel could not import the course's checks (ImportError: simulated")
    assert "pip install -e ." in error
    assert not scores(course) and script(course, "--list").stdout.split() == ["alice"]


def test_a_fault_of_the_machine_stops_every_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that reports a grading-environment error ends the run: nobody else is started, nothing merged."""
    import grade_class
    from nbgrader.api import Gradebook

    Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}").close()
    fatal = {"ok": False, "reason": "the grading kernel could not set up the check guard", "fatal": True}
    fake_graders(monkeypatch, answering(fatal))
    monkeypatch.setattr(grade_class, "kernel_zygote_env", lambda *_: contextlib.nullcontext(dict(os.environ)))
    students = [f"student_{i:02d}" for i in range(12)]
    outcomes, merged = grade_class.grade_locally(grade_class.Course(tmp_path), students, 2, execute=None)
    assert merged == 0 and 1 <= len(outcomes) <= 2, [o.student for o in outcomes]
    assert all(o.fatal and not o.ok for o in outcomes)
