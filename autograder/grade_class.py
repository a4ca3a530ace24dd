"""Grade a whole class in parallel: shards of the gradebook, merged through nbgrader's own API.

    python grade_class.py --jobs 8                 # every new or changed submission, 8 workers
    python grade_class.py alice bob --force        # these students, graded again
    python grade_class.py --shard 3/16             # SLURM array task 3 of 16 (slurm/autograde.sbatch)
    python grade_class.py --merge                  # the dependent merge job

Each worker grades into its own copy of the gradebook (``shards/shard_<i>.db``), merged at the end
into ``gradebook.db``; README.md, "Grading a class in parallel", says how and why.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import tampering  # next to this script

from ganlab.exercises import grade_id

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "ganlab"
# Files whose change means every student must be graded again.
KIT_FILES = ("nbgrader_config.py", "safe_execute.py", "guard.py", "judge.py", "kernel_zygote.py", "sandbox.py")


@dataclass
class Course:
    """The folders and files of one nbgrader course directory."""

    root: Path

    def __post_init__(self) -> None:
        self.gradebook = self.root / "gradebook.db"
        self.shards = self.root / "shards"
        self.state = self.root / "grading_state.json"
        self.logs = self.root / "logs" / "grading"

    def students(self) -> list[str]:
        """Every student with a collected submission, sorted (the same order in every SLURM task)."""
        return sorted(path.parent.name for path in (self.root / "submitted").glob(f"*/{ASSIGNMENT}") if path.is_dir())


@dataclass
class Outcome:
    """What grading one student gave."""

    student: str
    ok: bool
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    fatal: bool = False  # the grading machine's fault (SafeExecute's GradingEnvironmentError): stop the run


def kit_fingerprint(course: Course) -> str:
    """Hash of what decides the grades besides the submission: the source notebooks and the grading code."""
    digest = hashlib.sha256()
    sources = sorted((HERE.parent / "notebooks" / ASSIGNMENT).glob("*.ipynb"))
    for path in [*sources, *(HERE / name for name in KIT_FILES), course.root / "nbgrader_config.py"]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(course: Course, student: str, kit: str) -> str:
    """Hash of a student's submitted files (names and bytes) and of the grading kit."""
    digest = hashlib.sha256(kit.encode())
    folder = course.root / "submitted" / student / ASSIGNMENT
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def write_json(path: Path, data: dict) -> None:
    """Write through a temporary file, so a killed task never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def pending(course: Course, requested: list[str] | None, force: bool) -> list[str]:
    """The students to grade: the requested ones (default: all) that are new or changed, or all of them with force."""
    known = course.students()
    chosen = sorted(set(requested)) if requested else known
    missing = sorted(set(chosen) - set(known))
    if missing:
        raise SystemExit(f"error: no submission for {', '.join(missing)} in {course.root / 'submitted'}")
    if force:
        return chosen
    state = read_json(course.state)
    kit = kit_fingerprint(course)
    return [student for student in chosen if state.get(student) != fingerprint(course, student, kit)]


def check_ready(course: Course) -> None:
    """One clear error when the course is not set up for grading."""
    if not course.gradebook.exists():
        raise SystemExit(
            f"error: {course.gradebook} does not exist: run `make release` (nbgrader generate_assignment) first"
        )
    with sqlite3.connect(course.gradebook) as db:
        if not db.execute("select 1 from assignment where name = ?", (ASSIGNMENT,)).fetchone():
            raise SystemExit(f"error: {course.gradebook} has no assignment {ASSIGNMENT}: run `make release` first")


COURSE_CHECKS = "ganlab_solution.labcheck"  # what every grading kernel must import


def check_kernels_find_the_course(cause: str | None = None) -> None:
    """One clear error when a kernel could not import the course's checks: ``cause``, what the kernel zygote's fork
    met, or else (no zygote) what a Python started in an empty folder, as a kernel runs, meets (a package found only
    from the repository fails there)."""
    if cause is None:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONSTARTUP"}
        with tempfile.TemporaryDirectory(prefix="ganlab_preflight_") as folder:
            done = subprocess.run(
                [sys.executable, "-c", f"import {COURSE_CHECKS}"], cwd=folder, env=env, capture_output=True, text=True
            )
        cause = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1] if done.returncode else ""
    if cause:
        raise SystemExit(
            f"error: a grading kernel could not import the course's checks ({cause}), so nobody was graded: "
            f"install the course package for {sys.executable} (`pip install -e .` in the course repository), "
            "then grade again"
        )


def nbgrader_config(course: Course):  # noqa: ANN201 (a traitlets Config)
    """The course's ``nbgrader_config.py``, as nbgrader reads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()


def executor(course: Course):  # noqa: ANN201 (a SafeExecute)
    """The course's ``SafeExecute`` (its sandbox switch); one clear error when this machine cannot build the sandbox."""
    from safe_execute import GradingEnvironmentError, SafeExecute, require_sandbox  # next to this script

    execute = SafeExecute(config=nbgrader_config(course))
    try:
        if execute.sandbox:
            require_sandbox()
    except GradingEnvironmentError as error:
        raise SystemExit(f"error: {error}") from None
    return execute


def new_shard(course: Course, index: int) -> Path:
    """A fresh copy of the gradebook for shard ``index`` (SQLite's backup API: a consistent copy)."""
    course.shards.mkdir(parents=True, exist_ok=True)
    path = course.shards / f"shard_{index}.db"
    path.unlink(missing_ok=True)
    with sqlite3.connect(course.gradebook) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    return path


class Grader:
    """A long-lived grading process for one shard (``--worker SHARD``): nbgrader imported once, not per student.
    One that dies is reported against the student it was grading and replaced for the next one."""

    def __init__(self, course: Course, shard: Path, env: dict[str, str] | None) -> None:
        self.course, self.shard, self.env = course, shard, env
        self.process: subprocess.Popen | None = None
        self.log = course.logs / f"{shard.stem}.worker.log"  # the process's own output; students have their own

    def _start(self) -> subprocess.Popen:
        self.course.logs.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            return subprocess.Popen(
                [sys.executable, str(HERE / "grade_class.py"), "--course", str(self.course.root), "--worker",
                 str(self.shard)],
                cwd=self.course.root, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                text=True,
            )  # fmt: skip

    def grade(self, student: str) -> Outcome:
        """Grade one student into the shard; a failure becomes an Outcome, never an exception."""
        if self.process is None or self.process.poll() is not None:
            try:
                self.process = self._start()
            except OSError as error:
                return Outcome(student, False, f"could not start the grading process: {error}")
        try:
            self.process.stdin.write(student + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            code = self.process.wait()
            self.process = None
            return Outcome(
                student, False, f"the grading process died (exit code {code}) on this student (log: {self.log})"
            )
        result = json.loads(line)
        if not result["ok"]:
            return Outcome(student, False, result["reason"], fatal=result.get("fatal", False))
        return Outcome(student, True, warnings=kernel_deaths(self.course, student))

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def serve_worker(course: Course, shard: Path) -> int:
    """``--worker SHARD``: grade each student id read from stdin into ``shard``, one JSON line each on stdout."""
    # fd 1 carries the results: what kernels and libraries print there goes to stderr (the worker log) instead.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from safe_execute import environment_error  # next to this script

    config = nbgrader_config(course)
    config.CourseDirectory.db_url = f"sqlite:///{shard}"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for line in sys.stdin:
        student = line.strip()
        log = course.logs / f"{student}.log"
        result = api.autograde(ASSIGNMENT, student, force=True, create=True)
        text = result.get("log", "") + result.get("error", "")
        log.write_text(text)
        reason, fatal = "", False
        if not result["success"]:
            # SafeExecute's own error says what the grading machine lacks: it, not nbgrader's summary line.
            cause = environment_error(text)
            fatal = cause is not None
            lines = [line for line in text.splitlines() if "[ERROR]" in line or "Error" in line]
            last = cause or (lines or text.strip().splitlines() or ["no output"])[-1]
            reason = f"nbgrader autograde failed: {last.strip()[:400]} (log: {log})"
        results.write(json.dumps({"ok": result["success"], "reason": reason, "fatal": fatal}) + "\n")
        results.flush()
    return 0


def kernel_deaths(course: Course, student: str) -> list[str]:
    """'notebook: cell <id> stopped the kernel' for every cell SafeExecute marked as a kernel death."""
    found = []
    for path in sorted((course.root / "autograded" / student / ASSIGNMENT).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" and output.get("ename") == "KernelDied":
                    name = grade_id(cell) or f"#{index}"
                    found.append(f"{path.stem}: cell {name}: {output.get('evalue', '')[:80]}")
                    break
    return found


def run_shard(
    course: Course, index: int, students: Iterable[str], report: Callable[[Outcome], None], env: dict[str, str]
) -> None:
    """Grade ``students`` (maybe shared with other workers) into shard ``index``; write its manifest."""
    shard = new_shard(course, index)
    manifest_path = course.shards / f"shard_{index}.json"
    manifest: dict = {"db": shard.name, "graded": {}, "failed": {}}
    write_json(manifest_path, manifest)
    kit = kit_fingerprint(course)
    grader = Grader(course, shard, env)
    try:
        for student in students:
            print_ = fingerprint(course, student, kit)  # before grading: a change during grading means grade again
            outcome = grader.grade(student)
            if outcome.ok:
                manifest["graded"][student] = print_
            else:
                manifest["failed"][student] = outcome.reason
            write_json(manifest_path, manifest)
            report(outcome)
            if outcome.fatal:
                break  # every later student would fail the same way: they stay pending for the next run
    finally:
        grader.close()


@contextlib.contextmanager
def kernel_zygote_env(execute) -> Iterator[dict[str, str]]:  # noqa: ANN001 (a SafeExecute)
    """The grading processes' environment, naming one kernel zygote for every worker of the run (without one,
    kernels start cold: slower, same grades), once a kernel could import the course's checks."""
    import kernel_zygote  # next to this script (its folder is on sys.path)
    from safe_execute import start_zygote

    try:
        zygote = start_zygote(execute.sandbox, execute.kernel_threads, check=COURSE_CHECKS)
    except (OSError, RuntimeError) as error:
        print(f"note: no kernel zygote ({error}); kernels start cold", file=sys.stderr)
        check_kernels_find_the_course()
        yield dict(os.environ)
        return
    try:
        check_kernels_find_the_course(zygote.unimportable)
        yield {**os.environ, kernel_zygote.ENV_VAR: zygote.path}
    finally:
        zygote.close()


def merge(course: Course) -> tuple[int, dict[str, str]]:
    """Copy every shard's graded students into the gradebook (nbgrader's API); (students merged, failures)."""
    from nbgrader.api import Gradebook

    manifests = {path: read_json(path) for path in sorted(course.shards.glob("shard_*.json"))}
    failed: dict[str, str] = {}
    graded: dict[str, tuple[str, str]] = {}  # student -> (fingerprint, shard database)
    for manifest in manifests.values():
        failed.update(manifest["failed"])
        graded.update({student: (print_, manifest["db"]) for student, print_ in manifest["graded"].items()})
    # New students enter in a serial `nbgrader autograde`'s order (sorted ids): `nbgrader export`'s rows match it.
    state = read_json(course.state)
    shards: dict[str, Gradebook] = {}
    try:
        with Gradebook(f"sqlite:///{course.gradebook}") as main:
            for student in sorted(graded):
                print_, db = graded[student]
                if db not in shards:
                    shards[db] = Gradebook(f"sqlite:///{course.shards / db}")
                copy_submission(shards[db], main, student)
                state[student] = print_
    finally:
        for shard in shards.values():
            shard.close()
    write_json(course.state, state)
    for path, manifest in manifests.items():
        (course.shards / manifest["db"]).unlink(missing_ok=True)
        path.unlink()
    return len(graded), failed


def copy_submission(shard, main, student: str) -> None:  # noqa: ANN001 (two nbgrader.api.Gradebook)
    """Make ``main``'s record of the student's submission identical to ``shard``'s."""
    person = shard.find_student(student)
    main.update_or_create_student(
        student, first_name=person.first_name, last_name=person.last_name, email=person.email,
        lms_user_id=person.lms_user_id,
    )  # fmt: skip
    source = shard.find_submission(ASSIGNMENT, student)
    main.update_or_create_submission(ASSIGNMENT, student, timestamp=source.timestamp, extension=source.extension)
    for notebook in source.notebooks:
        target = main.find_submission_notebook(notebook.name, ASSIGNMENT, student)
        target.flagged = notebook.flagged
        target.late_submission_penalty = notebook.late_submission_penalty
        for grade in notebook.grades:
            copy = main.find_grade(grade.name, notebook.name, ASSIGNMENT, student)
            copy.auto_score, copy.manual_score = grade.auto_score, grade.manual_score
            copy.extra_credit, copy.needs_manual_grade = grade.extra_credit, grade.needs_manual_grade
        for comment in notebook.comments:
            copy = main.find_comment(comment.name, notebook.name, ASSIGNMENT, student)
            copy.auto_comment, copy.manual_comment = comment.auto_comment, comment.manual_comment
    main.db.commit()


def grade_locally(course: Course, students: list[str], jobs: int, execute) -> tuple[list[Outcome], int]:  # noqa: ANN001
    """Grade ``students`` with ``jobs`` worker threads (each drives a grading process into its own shard), then merge."""
    from tqdm import tqdm

    # Each kernel runs one thread (SafeExecute.kernel_threads): the workers share out the cores.
    todo, lock = iter(students), threading.Lock()
    outcomes: list[Outcome] = []

    def next_student() -> str | None:
        with lock:
            return next(todo, None)

    def report(outcome: Outcome) -> None:
        with lock:
            outcomes.append(outcome)
            failed = sum(not o.ok for o in outcomes)
            bar.set_postfix(done=len(outcomes) - failed, failed=failed)
            bar.update(1)
            if not outcome.ok:
                bar.write(f"FAILED {outcome.student}: {outcome.reason}")
            if outcome.fatal:
                for _ in todo:  # nobody else starts: the machine, not the students, is at fault
                    pass
            for warning in outcome.warnings:
                bar.write(f"note   {outcome.student}: {warning}")

    with kernel_zygote_env(execute) as env:
        bar = tqdm(total=len(students), unit="student", desc="grading", dynamic_ncols=True)  # once kernels can start
        workers = [
            threading.Thread(target=run_shard, args=(course, index, iter(next_student, None), report, env), daemon=True)
            for index in range(min(jobs, len(students)))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    bar.close()
    merged, _ = merge(course)
    return outcomes, merged


def print_outcomes(header: str, outcomes: list[Outcome], sandboxed: bool) -> int:
    """``header, N failed``, every failed student and kernel death, a warning when graded without a sandbox; N."""
    failed = [f"  failed {o.student}: {o.reason}" for o in outcomes if not o.ok]
    lines = [f"{header}, {len(failed)} failed", *failed]
    lines += [f"  note   {o.student}: {w}" for o in outcomes for w in o.warnings]
    if not sandboxed:
        lines.append(
            "WARNING: this class was graded WITHOUT a sandbox (c.SafeExecute.sandbox = False in "
            "nbgrader_config.py): student code could read and write whatever the grading user can"
        )
    print("\n".join(lines))
    return len(failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("students", nargs="*", help="grade only these students (default: every collected one)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="workers (default: all cores)")
    parser.add_argument("--force", action="store_true", help="grade again what did not change since the last merge")
    parser.add_argument("--shard", metavar="I/N", help="grade students I, I+N, I+2N... into shard I (a SLURM task)")
    parser.add_argument("--merge", action="store_true", help="merge the shards into gradebook.db (after the array job)")
    parser.add_argument("--list", action="store_true", help="print the students that would be graded, then stop")
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course folder (default: this one)")
    parser.add_argument("--worker", type=Path, metavar="SHARD", help=argparse.SUPPRESS)  # a Grader's process
    args = parser.parse_args(argv)
    course = Course(args.course.resolve())
    if args.worker:
        return serve_worker(course, args.worker)
    check_ready(course)
    if args.merge:
        merged, failed = merge(course)
        print(f"merged {merged} students into {course.gradebook}; {len(failed)} failed")
        for student, reason in sorted(failed.items()):
            print(f"  failed {student}: {reason}")
        return 1 if failed else 0
    students = pending(course, args.students, args.force)
    if args.list:
        print("\n".join(students))
        return 0
    if args.shard:
        try:
            index, count = (int(part) for part in args.shard.split("/"))
            assert 0 <= index < count
        except (ValueError, AssertionError):
            raise SystemExit(f"error: --shard {args.shard!r} must be I/N with 0 <= I < N (e.g. 3/16)") from None
        students = students[index::count]
    elif args.jobs < 1:
        raise SystemExit("error: --jobs must be at least 1")
    elif any(course.shards.glob("shard_*.json")):
        raise SystemExit(
            f"error: {course.shards} holds shards not merged yet: run `python grade_class.py --merge` first"
        )
    elif not students:
        print("nothing to grade: every submission is graded and unchanged (--force grades again)")
        return 0
    execute = executor(course)
    if args.shard:
        outcomes: list[Outcome] = []
        if students:
            with kernel_zygote_env(execute) as env:
                run_shard(course, index, students, outcomes.append, env)
        print_outcomes(f"shard {index}/{count}: {sum(o.ok for o in outcomes)} graded", outcomes, execute.sandbox)
        return 0  # a failed student is reported by the merge, and must not cancel the merge job
    outcomes, merged = grade_locally(course, students, args.jobs, execute)
    shutil.rmtree(course.shards, ignore_errors=True)
    failed = print_outcomes(f"{merged} students graded and merged into gradebook.db", outcomes, execute.sandbox)
    graded = [course.root / "autograded" / o.student / ASSIGNMENT for o in outcomes if o.ok]
    flagged = sum(tampering.flagged_cells(path) for folder in graded for path in folder.glob("*.ipynb"))
    if flagged:
        print(f"look at these: {flagged} answer cells reach into the grading machinery (class report)")
    if any(o.fatal for o in outcomes):
        left = len(students) - len(outcomes)
        print(f"error: grading stopped ({left} students not started, still pending): fix the grading machine as "
              "the failure above says, then run again; only what is not graded yet is graded", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
