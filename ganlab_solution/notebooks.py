"""Write the reference answers into the source notebooks' answer cells, or check that they are there.

Each answer is written once, in the reference package (the ``reference`` of its exercise, with nbgrader's
solution markers), the code that ruff lints, the tests import and the trainer runs; the notebooks' answer
cells are generated from it word for word. Edit the reference, then run::

    python -m ganlab_solution.notebooks          # rewrite the answer cells that differ
    python -m ganlab_solution.notebooks --check  # CI: list the cells that differ, exit 1 if any
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ganlab.answers import reference_answer
from ganlab.exercises import EXERCISES, REFERENCE_PACKAGE, Exercise, grade_id
from ganlab.files import atomic_write

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks" / "ganlab"


@dataclass(frozen=True)
class Drift:
    """One answer cell that does not read as its reference."""

    exercise: Exercise
    notebook: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.notebook.name}, cell {self.exercise.answer_id} (exercise {self.exercise.number}): {self.reason}"


def sync(folder: Path = NOTEBOOKS, write: bool = True) -> list[Drift]:
    """Compare (and with ``write``, rewrite) every generated answer cell of the notebooks in ``folder``; returns the
    cells that differed (or, when a cell is missing, could not be written)."""
    drifts: list[Drift] = []
    for stem in dict.fromkeys(e.notebook for e in EXERCISES):
        path = folder / f"{stem}.ipynb"
        notebook = json.loads(path.read_text())
        changed = False
        for exercise in (e for e in EXERCISES if e.notebook == stem and e.reference and e.answer_id):
            cell = next((c for c in notebook["cells"] if grade_id(c) == exercise.answer_id), None)
            if cell is None:
                drifts.append(Drift(exercise, path, "no answer cell with this grade id: add it to the notebook"))
                continue
            # The reference's source as it stands in its module: decorators and ### END SOLUTION included.
            want = inspect.getsource(reference_answer(exercise.names[0])).rstrip("\n")
            if "".join(cell["source"]) != want:
                drifts.append(Drift(exercise, path, f"differs from {REFERENCE_PACKAGE}.{exercise.reference}"))
                cell["source"] = want.splitlines(keepends=True)  # as Jupyter stores it
                changed = True
        if write and changed:
            text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text))
    return drifts


def main(argv: list[str] | None = None) -> int:
    """The command line: rewrite the answer cells, or with ``--check`` only report them."""
    parser = argparse.ArgumentParser(prog="python -m ganlab_solution.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell differs")
    parser.add_argument("--folder", type=Path, default=NOTEBOOKS, help="the source notebooks (default: %(default)s)")
    args = parser.parse_args(argv)
    drifts = sync(args.folder, write=not args.check)
    for drift in drifts:
        print(f"{'differs' if args.check else 'rewritten'}: {drift}")
    if args.check and drifts:
        print(
            "error: the notebooks' answer cells must be generated from the reference: "
            "edit the reference, then run python -m ganlab_solution.notebooks",
            file=sys.stderr,
        )
        return 1
    if not drifts:
        print(f"the {sum(1 for e in EXERCISES if e.reference)} answer cells read as their reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
