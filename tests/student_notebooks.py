"""The release notebooks as a student who answered every exercise correctly hands them in.

Used by the student-path tests: the answers are the source notebooks' solutions, put into
the cells of the release notebooks (what ``nbgrader generate_assignment`` gives students).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "ganlab"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def solutions(source: Path) -> dict[str, str]:
    """The answer of each solution cell of a source notebook, by grade_id, without the markers."""
    notebook = json.loads(source.read_text())
    answers = {}
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = MARKERS.sub("", "".join(cell["source"]))
    return answers


def release(course: Path) -> Path:
    """Run ``nbgrader generate_assignment`` in a copy of the course folder; returns the release folder."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "ganlab", "--force"],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return course / "release" / "ganlab"


def fill(release_dir: Path, dest: Path, changes: dict[str, tuple[str, str]] | None = None) -> list[Path]:
    """Copy the release notebooks to ``dest`` with every answer cell filled with the reference answer.

    ``changes`` maps a grade_id to an ``(old, new)`` text replacement applied to that answer:
    a student whose answer differs from the reference in a recognisable way.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(release_dir.glob("*.ipynb")):
        answers = solutions(SOURCE / path.name)
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                text = answers[grade_id]
                if changes and grade_id in changes:
                    old, new = changes[grade_id]
                    assert old in text, (grade_id, old)
                    text = text.replace(old, new)
                cell["source"] = text
        (dest / path.name).write_text(json.dumps(notebook, indent=1))
        written.append(dest / path.name)
    return written


def outputs(notebook: Path) -> str:
    """Every text a run of ``notebook`` printed (streams, results, errors), joined."""
    texts = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append("".join(output["text"]))
            elif output.get("output_type") == "error":
                texts.append(f"{output['ename']}: {output['evalue']}")
            elif "text/plain" in output.get("data", {}):
                texts.append("".join(output["data"]["text/plain"]))
    return "\n".join(texts)


HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)


def answered(dest: Path, changes: dict[str, tuple[str, str]] | None = None) -> Path:
    """The source notebooks in ``dest`` with hidden tests removed and every answer filled (what a good student has).

    No nbgrader run: quicker than :func:`release` + :func:`fill`, for tests of the answer loader
    and the student's command line. ``changes`` as in :func:`fill`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for source in sorted(SOURCE.glob("*.ipynb")):
        notebook = json.loads(source.read_text())
        answers = solutions(source)
        for cell in notebook["cells"]:
            text = HIDDEN.sub("", "".join(cell["source"]))
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                text = answers[grade_id]
                if changes and grade_id in changes:
                    text = text.replace(*changes[grade_id])
            cell["source"] = text
        (dest / source.name).write_text(json.dumps(notebook))
    return dest
