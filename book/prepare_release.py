"""Copy the nbgrader release notebooks into the book, each with a download link on top.

Usage: ``python book/prepare_release.py SRC_DIR DST_DIR [--solutions SOURCE_DIR]`` (called by
``book/build.sh``). With ``--solutions`` (the site built for after the deadline) each answer cell
of the release notebooks is filled with the reference answer from the source notebooks.

The pages are rendered, never executed: each copy carries myst-nb's
``execution_mode: off`` (on top of ``execute.exclude_patterns`` in ``_config.yml``).
The untouched release notebook is what the link downloads: it is copied to
``book/_extra/notebooks/``, which lands at ``<site>/notebooks/``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

from ganlab.exercises import grade_id

BOOK = Path(__file__).resolve().parent
DOWNLOADS = BOOK / "_extra" / "notebooks"
# A page in DST lives at <site>/book/exercises/_release/NAME.html.
SITE_ROOT_FROM_PAGE = "../../.."

# Solution and hidden-test markers must never reach the site.
FORBIDDEN = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def download_cell(name: str) -> nbformat.NotebookNode:
    """A markdown cell with a plain link to the untouched notebook."""
    href = f"{SITE_ROOT_FROM_PAGE}/notebooks/{name}"
    text = (
        f'<p class="ganlab-download">📥 <a href="{href}" download="{name}">Download <code>{name}</code></a> '
        "and open it in JupyterLab (see <em>Setup</em>). This page shows the student version: "
        "the code cells are for you to fill in, and nothing on it has been run.</p>"
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = ["ganlab-download"]
    return cell


MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def answers_of(source: Path) -> dict[str, str]:
    """The reference answer of each solution cell of a source notebook, by grade_id, without markers."""
    cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
    return {
        c["metadata"]["nbgrader"]["grade_id"]: MARKERS.sub("", "".join(c["source"]))
        for c in cells
        if c["metadata"].get("nbgrader", {}).get("solution")
    }


def fill_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> None:
    """Put the reference answers into a release notebook's answer cells."""
    for cell in nb.cells:
        if (cell_id := grade_id(cell)) in answers:
            cell.source = answers[cell_id]


def prepare(src: Path, dst: Path, solutions: Path | None = None) -> list[Path]:
    """Copy every ``src/*.ipynb`` to ``dst`` (page) and to the downloads folder (as is)."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        leaked = [marker for marker in FORBIDDEN if marker in text]
        if leaked:
            raise SystemExit(f"{path} is not a release notebook: it contains {leaked[0]!r}")
        nb = nbformat.reads(text, as_version=4)
        if solutions is not None:
            fill_answers(nb, answers_of(solutions / path.name))
            nbformat.write(nb, DOWNLOADS / path.name)
        else:
            shutil.copy2(path, DOWNLOADS / path.name)
        nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, download_cell(path.name))
        nb.metadata.setdefault("mystnb", {})["execution_mode"] = "off"
        out = dst / path.name
        nbformat.write(nb, out)
        written.append(out)
    return written


def main(argv: list[str]) -> int:
    solutions = None
    if len(argv) == 4 and argv[2] == "--solutions":
        solutions, argv = Path(argv[3]), argv[:2]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    written = prepare(Path(argv[0]), Path(argv[1]), solutions)
    for path in written:
        print(f"[book]   {path.relative_to(BOOK.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
