"""How long the class report takes for a large class, and how much of it is the similarity pass.

    python bench/report_speed.py                      # 300 students, 7 notebooks
    python bench/report_speed.py --students 40 --keep /tmp/bigclass   # again: reuses the class

No kernel runs: each synthetic student of a real release gets gradebook scores and autograded
notebooks written directly (the model answer renamed, a catalogued mistake, or lines of its own;
a few missed notebooks and dead kernels, two pairs that share every answer). ``class_report.py``
runs as the instructor runs it, then its phases are timed again in this process.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from common import print_command

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "autograder"))
import class_report  # noqa: E402  (a script folder, not a package)
import grading_round as gr  # noqa: E402

from ganlab import exercises as lab  # noqa: E402

NAMES = ("x", "out", "size", "layers", "block", "channels", "value", "images")


def variant(code: str, rng: random.Random) -> str:
    """The same code with some names changed and blank lines moved (what copying students do)."""
    for name in rng.sample(NAMES, 3):
        code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(100)}", code)
    lines = [line for line in code.splitlines() if line.strip()]
    return "\n".join(line + ("\n" if rng.random() < 0.2 else "") for line in lines)


def own_lines(rng: random.Random) -> str:
    """An answer of the student's own: code that shares no line with the model or anyone else."""
    lines = [f"_scratch_{k} = [{', '.join(str(rng.randrange(1000)) for _ in range(8))}]" for k in range(5)]
    return "\n".join(lines) + "\n"


def build(course: Path, students: int, seed: int) -> None:
    """A released scratch course with ``students`` synthetic, already graded students."""
    from nbgrader.api import Gradebook

    rng = random.Random(seed)
    gr.make_course(course)
    gr.nbgrader(course, "generate_assignment", gr.ASSIGNMENT, "--force")
    release = course / "release" / gr.ASSIGNMENT
    names = sorted(path.stem for path in release.glob("*.ipynb"))
    structure = {name: ([e for e in lab.of_notebook(name) if not e.manual],
                        [e.test_id for e in lab.of_notebook(name) if e.manual]) for name in names}  # fmt: skip
    cases = gr.load_cases()
    reference = {name: gr.reference_answers(name) for name in names}
    ids = [f"student_{i:03d}" for i in range(students)]
    copied = {ids[1]: ids[0], ids[3]: ids[2]}  # two pairs that share every answer
    answers_of: dict[str, dict[str, dict[str, str]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ids:
            gradebook.add_student(student)
            submission = gradebook.add_submission(gr.ASSIGNMENT, student)
            grades = {(nb.name, grade.name): grade for nb in submission.notebooks for grade in nb.grades}
            answers_of[student] = {}
            for name in names:
                exercises, manual = structure[name]
                for question in manual:
                    grade = grades[(name, question)]
                    grade.manual_score = rng.choice([None, 1.0, 2.0])
                    grade.needs_manual_grade = grade.manual_score is None
                if rng.random() < 0.03:  # did not hand this notebook in: nbgrader records zeros
                    for exercise in exercises:
                        grades[(name, exercise.test_id)].auto_score = 0.0
                        grades[(name, exercise.test_id)].needs_manual_grade = False
                    continue
                cells, outputs = {}, {}
                for exercise in exercises:
                    wrong = [c for c in cases if c.notebook == name and c.expect_lost.get(exercise.test_id)]
                    roll, lost, message = rng.random(), 0.0, None
                    answer = exercise.answer_id
                    if student in copied:
                        cells.update(answers_of[copied[student]].get(name, {}))
                    elif roll < 0.2 and wrong:
                        case = rng.choice(wrong)
                        # The catalogue's mistake in the student's own words: renamed, with lines of their own.
                        cells[answer] = (
                            variant(case.cells.get(answer, reference[name][answer]), rng) + "\n" + own_lines(rng)
                        )
                        lost = case.expect_lost[exercise.test_id]
                        message = f"the answer differs from the lab's ({case.name}, seen at {rng.random():.3f})"
                    elif roll < 0.35 or student in copied.values():  # the sources of the copies write their own
                        cells[answer] = own_lines(rng)
                    else:
                        cells[answer] = variant(reference[name][answer], rng)
                    grade = grades[(name, exercise.test_id)]
                    grade.auto_score = exercise.points - lost
                    grade.needs_manual_grade = False
                    if message:
                        outputs[exercise.test_id] = ("CheckFailed", message)
                    elif rng.random() < 0.005:
                        outputs[answer] = ("KernelDied", "this cell stopped the Python kernel")
                        grade.auto_score = 0.0
                answers_of[student][name] = cells
                nb = gr.fill(release / f"{name}.ipynb", cells)
                for cell in nb.cells:
                    error = outputs.get(lab.grade_id(cell))
                    if error:
                        cell.outputs = [nbformat.v4.new_output("error", ename=error[0], evalue=error[1], traceback=[])]
                gr.submit(course, student, {name: nb})  # what the student handed in
                folder = course / "autograded" / student / gr.ASSIGNMENT
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, folder / f"{name}.ipynb")
        gradebook.db.commit()


def _children_cpu() -> float:
    """CPU seconds used by this process's finished children (the report's process and its workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="course folder to build and keep (default: a temporary one)")
    args = parser.parse_args(argv)
    print_command(__file__, argv)
    course = args.keep or Path(tempfile.mkdtemp(prefix="ganlab_report_bench_"))
    try:
        start = time.perf_counter()
        if (course / "gradebook.db").exists():  # a class kept by an earlier run (--keep): time the report again
            print(f"synthetic class: reused from {course}")
        else:
            build(course, args.students, args.seed)
            print(f"synthetic class: {args.students} students, built in {time.perf_counter() - start:.1f} s")
        start, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run([sys.executable, str(REPO / "autograder" / "class_report.py"), "--course", str(course)],
                              capture_output=True, text=True)  # fmt: skip
        whole, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        print(f"class_report.py, one process : {whole:6.1f} s wall, {cpu:.1f} s CPU (its similarity workers included)")
        print(f"  ({done.stdout.strip()})")
        print(
            f"  load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall time grows with it)"
        )
        # The same work in this process, phase by phase: wall seconds, and CPU seconds (this process and
        # its finished workers), which a busy machine inflates much less.
        phases: dict[str, tuple[float, float]] = {}

        def timed(phase: str, work):  # noqa: ANN001, ANN202
            wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
            result = work()
            phases[phase] = (time.perf_counter() - wall, time.process_time() + _children_cpu() - cpu)
            return result

        data = timed("read gradebook + notebooks", lambda: class_report.collect(course, gr.ASSIGNMENT, gr.SOURCE))
        summary = timed("summary without similarity", lambda: class_report.summarise(data, 0.7, 60, False))
        timed("similarity, 1 process", lambda: class_report.similar(data, 0.7, 60, 1))
        workers = os.cpu_count() or 1
        pairs, stats = timed(f"similarity, {workers} processes", lambda: class_report.similar(data, 0.7, 60, workers))
        timed("HTML, PNG and JSON", lambda: class_report.write_report(summary, data, course / "reports" / "bench"))
        for phase, (wall, cpu) in phases.items():
            print(f"  {phase:28s}: {wall:6.1f} s wall {cpu:6.1f} s CPU")
        print(f"  similarity: {sum(s.compared for s in stats)} answers compared, {len(pairs)} pairs flagged; "
              f"{workers} processes take {phases[f'similarity, {workers} processes'][0] / phases['similarity, 1 process'][0]:.2f}x "
              "the wall time of one")  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(course, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
