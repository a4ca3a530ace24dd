"""A synthetic class graded with 2 workers and as SLURM array tasks: the grades the catalogue declares.

The class (17 students) is built from the catalogue of ``tests/submissions/``: reference and
blank hand-ins, one student per kind of case of notebooks 01 and 02 (right in another style,
wrong, broken, hostile), students who hand in two notebooks, and one whose notebook is not even JSON.
Each cell's expected score is its maximum less what the case declares lost (``EXPECT_LOST``): the
grading round (test_grading.py) holds plain ``nbgrader autograde`` to the same declarations, so
the parallel and the SLURM paths give what plain nbgrader gives, without grading the class a third time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import grading_round as gr
import nbformat
import pytest

from .helpers import AUTOGRADER

NOTEBOOKS = ("01_data", "02_critic")
CORRUPT = "zz_corrupt"
# One student per kind of hand-in (right in another style, wrong, broken, killing its kernel, hostile, huge
# output): the class is graded three times, and the grading round grades the whole catalogue already.
# Left out: the infinite loop costs a minute-long timeout, the startup file's victim needs an order.
CLASS_CASES = {
    "01_no_clamp",
    "01_tampered_tests",
    "01_huge_output",
    "02_alternative_sequential",
    "02_bias_before_batchnorm",
    "02_broken_block_cell",
    "02_kernel_exit",
    "02_one_logit",
    "02_patch_torch",
    "02_startup_file_writer",
}


def build_class(release: Path) -> tuple[dict[str, dict[str, nbformat.NotebookNode]], dict[str, dict[str, dict]]]:
    """student id -> {notebook: submitted notebook}, and student id -> {notebook: points lost by test cell}.

    A blank hand-in's losses are ``None``: it loses every point.
    """
    cases = [case for case in gr.load_cases() if case.name in CLASS_CASES]

    def answered(notebook: str, cells: dict | None = None, delete: tuple = ()) -> nbformat.NotebookNode:
        return gr.fill(release / f"{notebook}.ipynb", {**gr.reference_answers(notebook), **(cells or {})}, delete)

    students, lost = {}, {}
    for notebook in NOTEBOOKS:
        students[f"reference_{notebook[:2]}"] = {notebook: answered(notebook)}
        students[f"blank_{notebook[:2]}"] = {notebook: nbformat.read(release / f"{notebook}.ipynb", as_version=4)}
        lost[f"reference_{notebook[:2]}"], lost[f"blank_{notebook[:2]}"] = {notebook: {}}, {notebook: None}
    for case in cases:
        student = gr.student_id(case.name)
        students[student] = {case.notebook: answered(case.notebook, case.cells, tuple(case.delete))}
        lost[student] = {case.notebook: case.expect_lost}
    by_name = {case.name: case for case in cases}
    bias, no_clamp = by_name["02_bias_before_batchnorm"], by_name["01_no_clamp"]
    students["pair_reference"] = {name: answered(name) for name in NOTEBOOKS}
    students["pair_mixed_a"] = {"01_data": answered("01_data"), "02_critic": answered("02_critic", bias.cells)}
    students["pair_mixed_b"] = {"01_data": answered("01_data", no_clamp.cells), "02_critic": answered("02_critic")}
    lost["pair_reference"] = {name: {} for name in NOTEBOOKS}
    lost["pair_mixed_a"] = {"01_data": {}, "02_critic": bias.expect_lost}
    lost["pair_mixed_b"] = {"01_data": no_clamp.expect_lost, "02_critic": {}}
    return students, lost


def new_course(folder: Path, students: dict) -> Path:
    """A scratch course with the real configuration, released, and the class's submissions collected."""
    gr.make_course(folder)
    gr.nbgrader(folder, "generate_assignment", gr.ASSIGNMENT, "--force")
    for student, notebooks in students.items():
        gr.submit(folder, student, notebooks)
    return folder


def add_corrupt(folder: Path) -> None:
    path = folder / "submitted" / CORRUPT / gr.ASSIGNMENT / "01_data.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not a notebook")


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


def export(folder: Path, skip: set[str] = frozenset()) -> list[str]:
    """The lines of ``nbgrader export``'s CSV (students in ``skip`` left out)."""
    gr.nbgrader(folder, "export", "--to", str(folder / "grades.csv"))
    lines = (folder / "grades.csv").read_text().splitlines()
    return [line for line in lines if not any(f",{student}," in line for student in skip)]


def script(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(folder), *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def class_graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("class")
    scratch = new_course(base / "release_only", {})
    students, lost = build_class(scratch / "release" / gr.ASSIGNMENT)
    assert len(students) == len(CLASS_CASES) + 7
    parallel = new_course(base / "parallel", students)
    add_corrupt(parallel)
    run = script(parallel, "--jobs", "2")
    # The SLURM path: two array tasks run as plain processes at the same time, then the merge job.
    few = dict(list(students.items())[:6])
    slurm = new_course(base / "slurm", few)
    tasks = [
        subprocess.Popen(
            [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(slurm), "--shard", f"{i}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    task_output = [task.communicate()[0] for task in tasks]
    merged = script(slurm, "--merge")
    return {
        "students": students, "lost": lost, "parallel": parallel, "run": run, "slurm": slurm,
        "few": few, "tasks": task_output, "merged": merged,
    }  # fmt: skip


@pytest.mark.slow
@pytest.mark.grading
def test_two_workers_give_the_declared_grades(class_graded: dict) -> None:
    parallel = scores(class_graded["parallel"], {CORRUPT})
    assert set(student for student, _, _ in parallel) == set(class_graded["students"]), class_graded["run"].stdout
    assert parallel == declared(parallel, class_graded["lost"])
    totals: dict[str, float] = {}
    for (student, _, _), (auto, manual, extra, _) in parallel.items():
        totals[student] = totals.get(student, 0) + (manual if manual is not None else auto or 0) + (extra or 0)
    exported = gr.exported_scores(class_graded["parallel"])
    assert {student: exported[student] for student in totals} == pytest.approx(totals)
    # The class is not trivial: some students lost points, some got everything.
    assert totals["reference_02"] == 8 and totals["blank_02"] == 0 and totals["pair_mixed_a"] < totals["pair_reference"]


@pytest.mark.slow
@pytest.mark.grading
def test_a_crashing_student_is_reported_and_stops_nobody(class_graded: dict) -> None:
    run = class_graded["run"]
    assert run.returncode == 1
    assert f"failed {CORRUPT}: nbgrader autograde failed" in run.stdout, run.stdout
    assert f"{len(class_graded['students'])} students graded and merged" in run.stdout
    # The kernel killed by os._exit is named with its notebook and cell.
    assert "case_02_kernel_exit: 02_critic: cell cblock" in run.stdout, run.stdout


@pytest.mark.slow
@pytest.mark.grading
def test_slurm_array_tasks_and_merge_give_the_two_workers_grades(class_graded: dict) -> None:
    few = set(class_graded["few"])
    assert class_graded["merged"].returncode == 0, class_graded["merged"].stdout + class_graded["merged"].stderr
    assert "merged 6 students" in class_graded["merged"].stdout
    parallel = {key: value for key, value in scores(class_graded["parallel"]).items() if key[0] in few}
    assert scores(class_graded["slurm"]) == parallel
    wanted = [
        line
        for line in export(class_graded["parallel"])
        if ",student_id," in line or any(f",{s}," in line for s in few)
    ]
    assert export(class_graded["slurm"]) == wanted


@pytest.mark.slow
@pytest.mark.grading
def test_only_new_or_changed_submissions_are_graded_again(class_graded: dict) -> None:
    parallel = class_graded["parallel"]
    listed = script(parallel, "--list")
    assert listed.stdout.split() == [CORRUPT], "an unchanged, graded student would be graded again"
    path = parallel / "submitted" / "reference_01" / gr.ASSIGNMENT / "01_data.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("handed in again"))
    nbformat.write(nb, path)
    assert script(parallel, "--list").stdout.split() == ["reference_01", CORRUPT]
    assert len(script(parallel, "--list", "--force").stdout.split()) == len(class_graded["students"]) + 1


@pytest.mark.grading
def test_bad_shard_argument_is_one_clear_error(tmp_path: Path) -> None:
    course = new_course(tmp_path / "course", {})
    done = script(course, "--shard", "2/2")
    assert done.returncode != 0 and "error: --shard '2/2' must be I/N" in done.stderr
    empty = script(tmp_path / "nowhere")
    assert empty.returncode != 0 and "error:" in empty.stderr and "make release" in empty.stderr


def test_a_dead_grading_process_costs_its_student_only(tmp_path: Path, monkeypatch) -> None:
    """A worker process that dies is reported against the student it had, and a new one grades the next."""
    import grade_class

    course = grade_class.Course(tmp_path)
    started: list[int] = []
    dying = "import sys; sys.stdin.readline(); sys.exit(7)"
    answering = "import json, sys\nfor _ in sys.stdin: print(json.dumps({'ok': False, 'reason': 'graded'}), flush=True)"

    def start(self: grade_class.Grader) -> subprocess.Popen:
        started.append(1)
        code = dying if len(started) == 1 else answering
        return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    monkeypatch.setattr(grade_class.Grader, "_start", start)
    grader = grade_class.Grader(course, tmp_path / "shard_0.db", None)
    first, second = grader.grade("alice"), grader.grade("bob")
    grader.close()
    assert not first.ok and "the grading process died (exit code 7) on this student" in first.reason
    assert (second.student, second.reason) == ("bob", "graded") and len(started) == 2


@pytest.mark.slow
@pytest.mark.grading
def test_a_machine_whose_kernels_lack_the_course_grades_nobody(tmp_path: Path, course_package_missing: Path) -> None:
    """The run stops before the first student, with one error line, and every student stays pending."""
    course = new_course(tmp_path / "course", {})
    release = course / "release" / gr.ASSIGNMENT / "01_data.ipynb"
    gr.submit(course, "alice", {"01_data": nbformat.read(release, as_version=4)})
    env = {**os.environ, "PYTHONPATH": str(course_package_missing)}
    done = subprocess.run(
        [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(course), "--jobs", "1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
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
    answering = f"import json, sys\nfor _ in sys.stdin: print(json.dumps({fatal!r}), flush=True)"

    def start(self: grade_class.Grader) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", answering], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)  # fmt: skip

    monkeypatch.setattr(grade_class.Grader, "_start", start)
    monkeypatch.setattr(grade_class, "kernel_zygote_env", lambda *_: contextlib.nullcontext(dict(os.environ)))
    students = [f"student_{i:02d}" for i in range(12)]
    outcomes, merged = grade_class.grade_locally(grade_class.Course(tmp_path), students, 2, execute=None)
    assert merged == 0 and 1 <= len(outcomes) <= 2, [o.student for o in outcomes]
    assert all(o.fatal and not o.ok for o in outcomes)
