"""Write the reference answers into the source notebooks' answer cells, or check that they are there.

Each answer of the lab is written once, in the reference package: the object that
:data:`ganlab.exercises.EXERCISES` names as an exercise's ``reference`` (for example
``models:CBlock``), with nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers
around what students write. The source notebooks' answer cells are generated from it,
word for word, so that the notebooks, the grader and the command-line trainer can never
disagree about an answer. Edit the reference, then run::

    python -m ganlab_solution.notebooks          # rewrite the answer cells that differ
    python -m ganlab_solution.notebooks --check  # CI: list the cells that differ, exit 1 if any

Why this direction (package to notebooks, not the other way round): the reference is code
that ruff lints, the tests import and the trainer runs; the notebooks are JSON around it.
The prose, the visible tests and the hidden tests stay in the notebooks, written once there.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ganlab.exercises import EXERCISES, REFERENCE_PACKAGE, Exercise
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


def reference_source(exercise: Exercise) -> str:
    """The source text of ``exercise``'s reference answer, as it stands in its module (decorators included)."""
    assert exercise.reference is not None
    module, name = exercise.reference.split(":")
    spec = importlib.util.find_spec(f"{REFERENCE_PACKAGE}.{module}")
    if spec is None or spec.origin is None:
        raise LookupError(f"no module {REFERENCE_PACKAGE}.{module} (exercise {exercise.number})")
    lines = Path(spec.origin).read_text().splitlines(keepends=True)
    for node in ast.parse("".join(lines)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            last = node.end_lineno or node.lineno
            # The AST ends at the last statement: the indented comments after it (### END SOLUTION) belong too.
            while last < len(lines) and lines[last].strip().startswith("#") and _indent(lines[last]) > node.col_offset:
                last += 1
            return "".join(lines[first - 1 : last]).rstrip("\n")
    raise LookupError(f"{spec.origin} defines no top-level {name} (exercise {exercise.number})")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _answer_cell(cells: list[dict], exercise: Exercise) -> dict | None:
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == exercise.answer_id:
            return cell
    return None


def _as_lines(text: str) -> list[str]:
    """A cell's ``source`` as Jupyter stores it: lines with their newline, the last one without."""
    return text.splitlines(keepends=True)


def sync(folder: Path = NOTEBOOKS, write: bool = True) -> list[Drift]:
    """Compare (and with ``write``, rewrite) every generated answer cell of the notebooks in ``folder``.

    Returns the cells that differed (or, when a cell is missing, could not be written).
    """
    drifts: list[Drift] = []
    for stem in dict.fromkeys(e.notebook for e in EXERCISES):
        path = folder / f"{stem}.ipynb"
        notebook = json.loads(path.read_text())
        changed = False
        for exercise in (e for e in EXERCISES if e.notebook == stem and e.reference and e.answer_id):
            cell = _answer_cell(notebook["cells"], exercise)
            if cell is None:
                drifts.append(Drift(exercise, path, "no answer cell with this grade id: add it to the notebook"))
                continue
            want = reference_source(exercise)
            if "".join(cell["source"]) != want:
                drifts.append(Drift(exercise, path, f"differs from {REFERENCE_PACKAGE}.{exercise.reference}"))
                cell["source"] = _as_lines(want)
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
