"""How fast the kit grades a class: students per minute, serial vs N workers, and where a student's time goes.

    python bench/grading_throughput.py                          # 4 students x 7 notebooks, 1 vs 2 workers
    python bench/grading_throughput.py --students 6 --notebooks 01_data 02_critic
    python bench/grading_throughput.py --sandbox both --repeat 2  # N workers without/with the sandbox, ABBA

The gradings (``grade_class.py``) run back to back on copies of one scratch course, so their ratio
holds on a loaded machine (the absolute figures do not). The breakdown times one student's notebooks
through ``SafeExecute`` phase by phase, and nbgrader's own overhead.
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
from common import print_command

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
    )
    spent = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"error: grading with {jobs} workers failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return spent


def compare(runs: dict[str, tuple[int, bool]], students: int, notebooks: list[str], repeat: int) -> dict[str, float]:
    """Seconds each run (label: workers, sandboxed) takes to grade the class, summed over ``repeat`` rounds;
    the rounds alternate the order, so a changing load weighs on every run alike."""
    base = Path(tempfile.mkdtemp(prefix="ganlab_bench_"))
    spent = dict.fromkeys(runs, 0.0)
    try:
        for round_ in range(repeat):
            for index, label in enumerate(list(runs)[:: 1 if round_ % 2 == 0 else -1]):
                jobs, boxed = runs[label]
                took = grade(course(base / f"{round_}_{index}", students, notebooks, sandboxed=boxed), jobs)
                spent[label] += took
                print(f"  round {round_ + 1}: {label:11s} {took:7.1f} s", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    graded = students * repeat
    for label, total in spent.items():
        print(f"{label:11s}: {total:7.1f} s  {60 * graded / total:6.2f} students/min  {total / graded:6.1f} s/student")
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=4, help="students in the scratch class (default 4)")
    parser.add_argument("--notebooks", nargs="+", help="notebooks each student hands in (default: all seven)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the parallel grading (default 2)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-phase breakdown")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the comparison, in alternating order")
    parser.add_argument(
        "--sandbox", choices=("on", "both"), default="on",
        help="on: grade in the sandbox (1 vs N workers); both: N workers without, then with the sandbox",
    )  # fmt: skip
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(path.stem for path in gr.SOURCE.glob("*.ipynb"))
    print_command(__file__, argv)
    print(f"{args.students} students x {len(notebooks)} notebooks; {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.1f}; {args.repeat} round(s)")  # fmt: skip
    if args.sandbox == "both":
        spent = compare({"no sandbox": (args.jobs, False), "sandbox": (args.jobs, True)}, args.students, notebooks,
                        args.repeat)  # fmt: skip
        print(f"sandbox cost: {100 * (spent['sandbox'] / spent['no sandbox'] - 1):+.1f}% per student "
              f"with {args.jobs} workers (target: at most +10%)")  # fmt: skip
        # Workers = cores: a 16-core node grades 16/jobs times as many students at once as this machine.
        per_student, projected, cores = spent["sandbox"] / (args.students * args.repeat), 200, 16
        print(f"projected: {projected} students on a {cores}-core node with {cores} workers, in the sandbox: "
              f"{projected * per_student * args.jobs / cores / 60:.1f} min "
              f"(from {per_student:.1f} s/student with {args.jobs} workers here)")  # fmt: skip
        return 0
    parallel = f"{args.jobs} workers"
    spent = compare({"serial": (1, True), parallel: (args.jobs, True)}, args.students, notebooks, args.repeat)
    print(f"speed-up   : {spent['serial'] / spent[parallel]:.2f}x")
    if args.no_breakdown:
        return 0
    phases = breakdown(notebooks)
    print(f"one student, {len(notebooks)} notebooks, run once outside nbgrader:")
    for phase in ("zygote start (once per run)", "kernel start", "guard (setup and verify)", "first cell (imports)",
                  "test cells (checks)", "answer and other cells"):  # fmt: skip
        print(f"  {phase:28s} {phases.get(phase, 0.0):6.1f} s")
    print(f"  {'notebooks in total':28s} {phases['total']:6.1f} s")
    per_student = spent["serial"] / (args.students * args.repeat)
    print(f"  {'nbgrader around them':28s} {max(0.0, per_student - phases['total']):6.1f} s (serial s/student - total)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
