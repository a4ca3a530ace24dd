"""Grades as the CSV files that Canvas and Moodle import: two ``nbgrader export`` plugins.

    nbgrader export --exporter lms_export.CanvasExporter --CanvasExporter.roster=roster.csv
    nbgrader export --exporter lms_export.MoodleExporter --MoodleExporter.roster=roster.csv

The roster's columns and the rules: README.md, "Grades for Canvas and Moodle".
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import NoReturn

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode


def fail(message: str) -> NoReturn:
    """Stop the export with one clear error line (no traceback) and exit status 1."""
    raise SystemExit(f"error: {message}")


def read_roster(path: str, needed_any: tuple[str, ...], option: str) -> dict[str, dict[str, str]]:
    """student_id -> the roster's row; ``needed_any``: at least one of these columns must be there."""
    if not path:
        fail(f"no roster: pass --{option}=ROSTER.csv (columns student_id and {' or '.join(needed_any)})")
    if not Path(path).is_file():
        fail(f"roster {path} does not exist: pass --{option}=ROSTER.csv")
    with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM from spreadsheet software is fine
        rows = list(csv.DictReader(handle))
        columns = set(rows[0]) if rows else set()
    if "student_id" not in columns or not columns & set(needed_any):
        fail(
            f"roster {path} needs a column student_id (the nbgrader id) and one of {', '.join(needed_any)}; "
            f"it has {', '.join(sorted(columns)) or 'no rows'}"
        )
    roster: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        student = (row.get("student_id") or "").strip()
        if not student:
            fail(f"roster {path}, line {number}: empty student_id")
        if student in roster:
            fail(f"roster {path}, line {number}: student_id {student!r} appears twice")
        roster[student] = {key: (value or "").strip() for key, value in row.items() if key}
    return roster


def score(gradebook: Gradebook, assignment: str, student: str) -> float:
    """The student's score (0 without a submission), late penalty deducted like ``nbgrader export``."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return 0.0
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))


def write_atomic(dest: str, header: list[str], rows: list[list[str]]) -> None:
    """Write the CSV to a temporary file and move it into place: a failure never leaves half a file."""
    folder = os.path.dirname(os.path.abspath(dest))
    handle, temporary = tempfile.mkstemp(suffix=".csv", dir=folder)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, dest)
    except BaseException:
        os.unlink(temporary)
        raise


class LmsExporter(ExportPlugin):
    """What the Canvas and Moodle exports share: the roster, one assignment, every student once."""

    roster = Unicode("", help="CSV with a student_id column and the LMS's identifying columns").tag(config=True)
    identity: tuple[str, ...] = ()  # roster columns copied to the CSV, in this order
    needed_any: tuple[str, ...] = ()
    default_to = "grades_lms.csv"

    def grade_column(self, assignment: str) -> str:
        return assignment

    def export(self, gradebook: Gradebook) -> None:
        assignments = [a.name for a in gradebook.assignments]
        chosen = [str(a) for a in self.assignment] or assignments
        if len(chosen) != 1:
            fail(
                f"one assignment per LMS file, the gradebook has {', '.join(assignments) or 'none'}: "
                "pass --assignment=NAME"
            )
        assignment = chosen[0]
        if assignment not in assignments:
            fail(f"the gradebook has no assignment {assignment!r} (it has {', '.join(assignments)})")
        roster = read_roster(self.roster, self.needed_any, f"{type(self).__name__}.roster")
        students = sorted(student.id for student in gradebook.students)
        unknown = [student for student in students if student not in roster]
        if unknown:
            fail(
                f"{len(unknown)} graded student(s) are not in the roster {self.roster}: {', '.join(unknown[:10])}; "
                "add a row for each (student_id = the folder name under submitted/)"
            )
        wanted = [str(s) for s in self.student] or sorted(set(students) | set(roster))
        points = {student: f"{score(gradebook, assignment, student):g}" for student in wanted}
        rows = [[roster.get(s, {}).get(column, "") for column in self.identity] + [points[s]] for s in wanted]
        dest = self.to or self.default_to
        write_atomic(dest, [*self.identity, self.grade_column(assignment)], rows)
        maximum = gradebook.find_assignment(assignment).max_score  # the LMS grade item's maximum
        self.log.info("Wrote %d students' grades for %s (out of %g) to %s", len(rows), assignment, maximum, dest)


class CanvasExporter(LmsExporter):
    """Canvas's gradebook import CSV: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment."""

    canvas_assignment_id = Unicode(
        "", help="Canvas's id of the assignment (in its URL): the column then updates it instead of adding one"
    ).tag(config=True)
    identity = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    needed_any = ("ID", "SIS User ID", "SIS Login ID")
    default_to = "grades_canvas.csv"

    def grade_column(self, assignment: str) -> str:
        return f"{assignment} ({self.canvas_assignment_id})" if self.canvas_assignment_id else assignment


class MoodleExporter(LmsExporter):
    """Moodle's grade import CSV: the user's identifying fields, then one grade column."""

    identity = ("First name", "Last name", "ID number", "Username", "Email address")
    needed_any = ("Email address", "ID number", "Username")
    default_to = "grades_moodle.csv"
