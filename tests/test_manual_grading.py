"""Questions graded by hand: a grade entered through nbgrader's API reaches ``nbgrader export``
next to the autograded points (on a copy of the grading round's gradebook)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from ganlab.exercises import EXERCISES, NOTEBOOKS, max_points

from .helpers import run_python

# The hand-graded questions, as declared (tests/test_names.py holds the notebooks to the declaration).
MANUAL = {exercise.test_id for exercise in EXERCISES if exercise.manual}


def test_the_lab_has_hand_graded_questions() -> None:
    assert {"q_unit_range", "q_stride_downsample", "q_critic_accuracy"} <= MANUAL


@pytest.mark.slow
@pytest.mark.grading
def test_a_manual_grade_reaches_the_export(grading_round: tuple[Path, dict], tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    workdir, results = grading_round
    if {notebook for _, notebook in results} != set(NOTEBOOKS):
        pytest.skip("GANLAB_ROUND_NOTEBOOKS left out notebooks with hand-graded questions")
    copy = tmp_path / "gradebook.db"
    shutil.copy(workdir / "gradebook.db", copy)
    autograded = sum(
        score for (student, _), r in results.items() if student == "reference" for score, _ in r.scores.values()
    )
    given = {"q_stride_downsample": 1.5, "q_critic_accuracy": 2.0}  # what the teaching assistant decided
    with Gradebook(f"sqlite:///{copy}") as gradebook:
        submission = gradebook.find_submission("ganlab", "reference")
        pending = {grade.name: grade for nb in submission.notebooks for grade in nb.grades if grade.needs_manual_grade}
        assert MANUAL <= set(pending), "a hand-graded question is not waiting for a grade"
        for name, score in given.items():
            pending[name].manual_score = score
        gradebook.db.commit()
    out = tmp_path / "grades.csv"
    database = f"--CourseDirectory.db_url=sqlite:///{copy}"
    done = run_python("-m", "nbgrader", "export", database, "--to", str(out), cwd=workdir)
    assert done.returncode == 0, done.stderr
    row = next(r for r in csv.DictReader(out.open()) if r["student_id"] == "reference")
    assert float(row["raw_score"]) == pytest.approx(autograded + sum(given.values()))
    # The assignment's maximum counts every test cell and every hand-graded question of the lab.
    assert float(row["max_score"]) == pytest.approx(max_points())
