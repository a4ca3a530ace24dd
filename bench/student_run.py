"""The student's whole path, timed: the release notebooks answered correctly, run top to bottom in one folder
of a fresh environment with the student package only, notebook 5 training the whole CPU recipe.

    python bench/student_run.py [--keep DIR]

Exits 1 when notebook 5's samples are not garments by ganlab.diagnostics' bounds. CI cuts the
training to 10 steps (tests/test_student.py); this is the full run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import print_command

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ganlab.diagnostics import MIN_CLASSES, MIN_CONFIDENT  # noqa: E402
from tests import student_notebooks  # noqa: E402
from tests.test_student import run_notebooks, student_environment  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="folder to work in and keep (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="ganlab_student_"))
    work.mkdir(parents=True, exist_ok=True)
    print_command(__file__, argv)
    python = student_environment(work)
    course = work / "course"
    shutil.copytree(ROOT / "autograder", course, ignore=shutil.ignore_patterns("release", "submitted", "autograded"))
    if not (work / "notebooks").exists():
        (work / "notebooks").symlink_to(ROOT / "notebooks")
    folder = work / "student"
    student_notebooks.fill(student_notebooks.release(course), folder)
    start = time.perf_counter()
    outputs = run_notebooks(python, folder)
    print(f"7 notebooks in {time.perf_counter() - start:.0f} s, in {folder}")
    report = outputs["05_training"]
    for line in report.splitlines():
        if re.search(r"steps in|healthy|collapsed|recognised with confidence", line):
            print(f"notebook 5: {line.strip()}")
    found = re.search(r"(\d+)% recognised with confidence, (\d+) classes", report)
    if not found:
        print("error: notebook 5 printed no classifier verdict", file=sys.stderr)
        return 1
    confident, classes = int(found.group(1)) / 100, int(found.group(2))
    ok = confident >= MIN_CONFIDENT and classes >= MIN_CLASSES and "healthy" in report
    print(f"verdict: {'garments' if ok else 'NOT garments'} (bounds: {MIN_CONFIDENT:.0%}, {MIN_CLASSES} classes)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
