"""Questions graded by hand: a grade entered through nbgrader's API reaches ``nbgrader export``
next to the autograded points (on a copy of the grading round's gradebook)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ganlab.exercises import max_points

from .helpers import LAB_NOTEBOOKS

NOTEBOOKS = LAB_NOTEBOOKS


def manual_points() -> dict[str, float]:
    """grade_id -> points of every hand-graded question of the lab."""
    points = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("solution"):
                points[meta["grade_id"]] = float(meta["points"])
    return points


def test_the_lab_has_hand_graded_questions() -> None:
    assert {"q_unit_range", "q_stride_downsample", "q_critic_accuracy"} <= set(manual_points())


@pytest.mark.slow
@pytest.mark.grading
def test_a_manual_grade_reaches_the_export(grading_round: tuple[Path, dict], tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    workdir, results = grading_round
    copy = tmp_path / "gradebook.db"
    shutil.copy(workdir / "gradebook.db", copy)
    autograded = sum(
        score for (student, _), r in results.items() if student == "reference" for score, _ in r.scores.values()
    )
    given = {"q_stride_downsample": 1.5, "q_critic_accuracy": 2.0}  # what the teaching assistant decided
    with Gradebook(f"sqlite:///{copy}") as gradebook:
        submission = gradebook.find_submission("ganlab", "reference")
        pending = {grade.name: grade for nb in submission.notebooks for grade in nb.grades if grade.needs_manual_grade}
        assert set(manual_points()) <= set(pending), "a hand-graded question is not waiting for a grade"
        for name, score in given.items():
            pending[name].manual_score = score
        gradebook.db.commit()
    out = tmp_path / "grades.csv"
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.db_url=sqlite:///{copy}", "--to", str(out)],
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    row = next(r for r in csv.DictReader(out.open()) if r["student_id"] == "reference")
    assert float(row["raw_score"]) == pytest.approx(autograded + sum(given.values()))
    # The assignment's maximum counts every test cell and every hand-graded question of the lab.
    everything = sum(
        float(cell.metadata["nbgrader"]["points"])
        for path in NOTEBOOKS
        for cell in nbformat.read(path, as_version=4).cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
    )
    assert float(row["max_score"]) == pytest.approx(everything) == pytest.approx(max_points())
