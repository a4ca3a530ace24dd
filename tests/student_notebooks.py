"""The lab's notebooks as a student who answered every exercise correctly has them: the source notebooks'
solutions put into the release notebooks (:func:`release`, :func:`fill`) or into the source ones (:func:`answered`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ganlab.exercises import grade_id

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "ganlab"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
# A change for fill(): exercise 2.3's Discriminator left as a student who has not written it yet.
DISCRIMINATOR_NOT_WRITTEN = {
    "discriminator": ("super().__init__()\n", "super().__init__()\n        raise NotImplementedError()\n")
}


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
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", "ganlab", "--force"]
    result = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return course / "release" / "ganlab"


def fill(notebooks: Path, dest: Path, changes: dict[str, tuple[str, str]] | None = None) -> Path:
    """Copy the notebooks of ``notebooks`` (a release, or :data:`SOURCE`) to ``dest``, hidden tests removed and
    every answer cell filled with the reference answer; ``changes`` maps a grade_id to an ``(old, new)`` text
    replacement applied to that answer: a student whose answer differs from the reference in a recognisable way.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(notebooks.glob("*.ipynb")):
        answers = solutions(SOURCE / path.name)
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            gid = grade_id(cell)
            text = HIDDEN.sub("", "".join(cell["source"]))
            if gid in answers:
                text = answers[gid]
                if changes and gid in changes:
                    old, new = changes[gid]
                    assert old in text, (gid, old)
                    text = text.replace(old, new)
            cell["source"] = text
        (dest / path.name).write_text(json.dumps(notebook, indent=1))
    return dest


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


def answered(dest: Path, changes: dict[str, tuple[str, str]] | None = None) -> Path:
    """:func:`fill` on the source notebooks: no nbgrader run, for the answer loader and the student's command line."""
    return fill(SOURCE, dest, changes)
