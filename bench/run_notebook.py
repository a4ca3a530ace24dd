"""Execute a release notebook answered with the reference solutions, and report its time and verdict.

Every release notebook beside ``NOTEBOOK`` is filled with its source's answers (as the grading
round's ``reference`` student) into ``--filled``, where ``NOTEBOOK`` is then executed by nbclient,
so that it finds the earlier notebooks it loads. Exit status 1 when a cell failed.

    python bench/run_notebook.py autograder/release/ganlab/05_training.ipynb --filled /tmp/filled \
        [--timeout 420] [--json nb.json] [--executed nb.ipynb] [--image nb.png]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "autograder"))
import grading_round  # noqa: E402  (a script folder, not a package: its fill() and reference answers)

sys.path.remove(str(REPO / "autograder"))


def fill_release(release_dir: Path, filled_dir: Path) -> list[Path]:
    """Write each release notebook of ``release_dir`` answered with its source's solutions to ``filled_dir``."""
    filled_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for release in sorted(release_dir.glob("*.ipynb")):
        if not (grading_round.SOURCE / release.name).is_file():
            continue  # not a graded notebook of the lab
        nb = grading_round.fill(release, grading_round.reference_answers(release.stem))
        nbformat.write(nb, filled_dir / release.name)
        written.append(filled_dir / release.name)
    return written


def stream_text(cell: nbformat.NotebookNode) -> str:
    """What a code cell printed (its stream outputs)."""
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def last_image(nb: nbformat.NotebookNode) -> bytes | None:
    """The last PNG the notebook displayed, if any."""
    images = [
        out["data"]["image/png"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    return base64.b64decode(images[-1]) if images else None


def execute(
    path: Path, timeout: int, verdict_call: str, append: str | None = None
) -> tuple[nbformat.NotebookNode, dict]:
    """Run the notebook at ``path`` in its folder (plus a last cell ``append``); returns it with outputs and a report."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    if append:
        nb.cells.append(nbformat.v4.new_code_cell(append, metadata={"tags": ["appended-by-run-notebook"]}))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        error = f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:500]
    seconds = time.perf_counter() - start
    verdicts = [stream_text(c) for c in nb.cells if c.cell_type == "code" and verdict_call in c.source]
    report = {
        "notebook": str(path),
        "seconds": round(seconds, 2),
        "ok": error is None,
        "error": error,
        "verdict": verdicts[-1].strip() if verdicts else None,
        "appended_output": stream_text(nb.cells[-1]).strip() if append else None,
        "executed_cells": sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count")),
    }
    return nb, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="a release notebook (its folder holds the others)")
    parser.add_argument("--filled", type=Path, required=True, help="where the answered notebooks are written and run")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may take")
    parser.add_argument("--verdict-call", default="diagnose(", help="the cell printing the verdict calls this")
    parser.add_argument("--append-cell", metavar="CODE", help="run this code as a last cell; its output is reported")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--executed", type=Path, help="save the executed notebook here")
    parser.add_argument("--image", type=Path, help="save the last image it drew here (PNG)")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(
            f"error: {args.notebook} does not exist: make the release first (make release) or pass its path",
            file=sys.stderr,
        )
        return 2
    filled = fill_release(args.notebook.parent, args.filled)
    target = args.filled / args.notebook.name
    if target not in filled:
        print(f"error: {args.notebook.name} has no source notebook in {grading_round.SOURCE}", file=sys.stderr)
        return 2
    print(f"filled {len(filled)} notebooks with the reference answers in {args.filled}; executing {target.name}")
    nb, report = execute(target, args.timeout, args.verdict_call, args.append_cell)
    if args.executed:
        nbformat.write(nb, args.executed)
    image = last_image(nb)
    if args.image and image:
        args.image.write_bytes(image)
    report["image"] = str(args.image) if args.image and image else None
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(f"{target.name}: {report['seconds']:.1f} s, {'ok' if report['ok'] else report['error']}")
    print(f"verdict: {report['verdict']}")
    if args.append_cell:
        print(f"appended cell printed: {report['appended_output']}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
