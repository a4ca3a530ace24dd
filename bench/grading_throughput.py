"""How fast the kit grades a class: students per minute, serial vs N workers, and where a student's time goes.

    python bench/grading_throughput.py                          # 4 students x 7 notebooks, 1 vs 2 workers
    python bench/grading_throughput.py --students 6 --notebooks 01_data 02_critic
    python bench/grading_throughput.py --sandbox both --repeat 2  # N workers without/with the sandbox, ABBA

Both gradings (``grade_class.py`` with 1 then N workers, or N workers without then with the
sandbox) run back to back on copies of one scratch course, so their ratio compares even on a
loaded machine; the absolute figures do not. The breakdown times one student's notebooks through
``SafeExecute`` phase by phase, and nbgrader's own overhead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "autograder"))
import grading_round as gr  # noqa: E402  (a script folder, not a package)
import kernel_zygote  # noqa: E402
from safe_execute import SafeExecute, start_zygote  # noqa: E402


class TimedExecute(SafeExecute):
    """SafeExecute that adds up the seconds spent in each phase of a notebook."""

    def __init__(self, phases: dict[str, float], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.phases = phases
        self._first = True

    def preprocess(self, nb, resources=None, km=None):  # noqa: ANN001
        self._start = time.perf_counter()
        self._first = True
        return super().preprocess(nb, resources, km)

    def _request(self, code: str, expressions: dict[str, str] | None = None) -> dict:
        if hasattr(self, "_start"):  # the first hidden request comes right after the kernel started
            self.phases["kernel start"] += time.perf_counter() - self._start
            del self._start
        began = time.perf_counter()
        try:
            return super()._request(code, expressions)
        finally:
            self.phases["guard (setup and verify)"] += time.perf_counter() - began

    def _run_graded(self, cell, index):  # noqa: ANN001
        graded = cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)
        phase = "test cells (checks)" if graded else "answer and other cells"
        if cell.cell_type == "code" and self._first:
            phase, self._first = "first cell (imports)", False
        began, guarded = time.perf_counter(), self.phases["guard (setup and verify)"]
        super()._run_graded(cell, index)
        # The guard's verification runs inside _run_graded: count it in its own phase only.
        self.phases[phase] += time.perf_counter() - began - (self.phases["guard (setup and verify)"] - guarded)


def breakdown(notebooks: list[str]) -> dict[str, float]:
    """Seconds per phase for one student handing in ``notebooks`` with the reference answers (the zygote
    is started first and timed apart, as grade_class.py starts one for all its workers)."""
    phases: dict[str, float] = defaultdict(float)
    began = time.perf_counter()
    zygote = start_zygote(sandboxed=True)
    phases["zygote start (once per run)"] = time.perf_counter() - began
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ[kernel_zygote.ENV_VAR] = zygote.path
    try:
        for name in notebooks:
            nb = nbformat.read(gr.SOURCE / f"{name}.ipynb", as_version=4)
            with tempfile.TemporaryDirectory() as folder:
                began = time.perf_counter()
                TimedExecute(phases, timeout=300).preprocess(nb, {"metadata": {"path": folder}})
                phases["total"] += time.perf_counter() - began
    finally:
        del os.environ["NBGRADER_EXECUTION"], os.environ[kernel_zygote.ENV_VAR]
        zygote.close()
    return dict(phases)


def course(folder: Path, students: int, notebooks: list[str], sandboxed: bool = True) -> Path:
    """A released scratch course with ``students`` reference submissions of ``notebooks``."""
    gr.make_course(folder)
    if not sandboxed:
        with open(folder / "nbgrader_config.py", "a") as config:
            config.write("c.SafeExecute.sandbox = False\n")
    gr.nbgrader(folder, "generate_assignment", gr.ASSIGNMENT, "--force")
    release = folder / "release" / gr.ASSIGNMENT
    filled = {name: gr.fill(release / f"{name}.ipynb", gr.reference_answers(name)) for name in notebooks}
    for index in range(students):
        gr.submit(folder, f"student_{index:03d}", filled)
    return folder


def grade(folder: Path, jobs: int) -> float:
    """Seconds that ``grade_class.py --jobs JOBS`` takes to grade the whole scratch class."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(REPO / "autograder" / "grade_class.py"), "--course", str(folder), "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=False,
    )
    spent = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"error: grading with {jobs} workers failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return spent


def compare_sandbox(
    students: int, notebooks: list[str], jobs: int, repeat: int = 1, projected: int = 200, cores: int = 16
) -> int:
    """Grade one class with ``jobs`` workers without and with the sandbox; print the cost and a projection.
    Rounds alternate the order, so a changing load weighs on both alike; the cost is that of the sums."""
    base = Path(tempfile.mkdtemp(prefix="ganlab_bench_"))
    spent = {False: 0.0, True: 0.0}
    try:
        for round_ in range(repeat):
            for boxed in (False, True) if round_ % 2 == 0 else (True, False):
                folder = base / f"{'within' if boxed else 'without'}_{round_}"
                took = grade(course(folder, students, notebooks, sandboxed=boxed), jobs)
                spent[boxed] += took
                print(f"  round {round_ + 1}: {'sandbox' if boxed else 'no sandbox':11s} {took:7.1f} s", flush=True)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    graded = students * repeat
    for label, boxed in (("no sandbox", False), ("sandbox", True)):
        total = spent[boxed]
        print(f"{label:11s}: {total:7.1f} s  {60 * graded / total:6.2f} students/min  {total / graded:6.1f} s/student "
              f"({jobs} workers, {repeat} round(s))")  # fmt: skip
    print(f"sandbox cost: {100 * (spent[True] / spent[False] - 1):+.1f}% per student (target: at most +10%)")
    # Workers = cores: a 16-core node grades cores/jobs times as many students at once as this machine.
    per_student = spent[True] / graded
    node = projected * per_student * jobs / cores
    print(f"projected: {projected} students on a {cores}-core node with {cores} workers, in the sandbox: "
          f"{node / 60:.1f} min (from {per_student:.1f} s/student with {jobs} workers here)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=4, help="students in the scratch class (default 4)")
    parser.add_argument("--notebooks", nargs="+", help="notebooks each student hands in (default: all seven)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the parallel grading (default 2)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-phase breakdown")
    parser.add_argument("--repeat", type=int, default=1, help="with --sandbox both: rounds, in alternating order")
    parser.add_argument(
        "--sandbox", choices=("on", "both"), default="on",
        help="on: grade in the sandbox (1 vs N workers); both: N workers without, then with the sandbox",
    )  # fmt: skip
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(path.stem for path in gr.SOURCE.glob("*.ipynb"))
    print("$ python bench/grading_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(
        f"{args.students} students x {len(notebooks)} notebooks; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}"
    )
    if args.sandbox == "both":
        return compare_sandbox(args.students, notebooks, args.jobs, args.repeat)
    base = Path(tempfile.mkdtemp(prefix="ganlab_bench_"))
    try:
        serial = grade(course(base / "serial", args.students, notebooks), 1)
        parallel = grade(course(base / "parallel", args.students, notebooks), args.jobs)
        phases = {} if args.no_breakdown else breakdown(notebooks)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rate_1, rate_n = 60 * args.students / serial, 60 * args.students / parallel
    print(f"serial     : {serial:7.1f} s  {rate_1:6.2f} students/min  {serial / args.students:6.1f} s/student")
    print(
        f"{args.jobs} workers  : {parallel:7.1f} s  {rate_n:6.2f} students/min  {parallel / args.students:6.1f} s/student"
    )
    print(f"speed-up   : {serial / parallel:.2f}x")
    if phases:
        per_student = serial / args.students
        print(f"one student, {len(notebooks)} notebooks, run once outside nbgrader:")
        for phase in ("zygote start (once per run)", "kernel start", "guard (setup and verify)", "first cell (imports)", "test cells (checks)",
                      "answer and other cells"):  # fmt: skip
            print(f"  {phase:28s} {phases.get(phase, 0.0):6.1f} s")
        print(f"  {'notebooks in total':28s} {phases['total']:6.1f} s")
        print(
            f"  {'nbgrader around them':28s} {max(0.0, per_student - phases['total']):6.1f} s (serial s/student - total)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
