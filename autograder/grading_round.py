"""A whole nbgrader round on the catalogue of test submissions, in a scratch course directory.

    python autograder/grading_round.py                 # every case of tests/submissions
    python autograder/grading_round.py --notebook 02_critic --keep /tmp/round

The instructor's commands (``nbgrader generate_assignment``, ``grade_class.py`` with two workers,
``nbgrader generate_feedback`` and ``export``) grade a student ``reference`` (every reference answer:
full marks), a student ``blank`` (the release untouched: zero) and one student per case of
``tests/submissions/*.py``, who hands in only the case's notebook. Each case file holds::

    NOTEBOOK = "02_critic"                      # the notebook's file stem
    EXPECT_LOST = {"test_cblock": 3}            # test cell grade_id -> points lost ({} for a valid answer)
    CELLS = {"cblock": "class CBlock..."}       # answer cell grade_id -> the student's code, or
    EDITS = {"cblock": [("bias=False", "")]}    # answer cell grade_id -> (old, new) edits of the reference answer
    DELETE = ["test_to_display"]                # optional: cells the student deleted (any grade_id)
    EXPECT_MESSAGE = {"test_cblock": "bias"}    # optional: words the failure message must contain

``CELLS`` may also name a test cell (the student edited it: nbgrader restores it). Other answer
cells keep the reference. The round passes when each student lost exactly the declared points,
each failed test explained itself with ``CheckFailed``, and ``nbgrader export`` agrees with the gradebook.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ganlab.exercises import grade_id

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ASSIGNMENT = "ganlab"
SOURCE = REPO / "notebooks" / ASSIGNMENT
CASES = REPO / "tests" / "submissions"
MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass
class Case:
    """One test submission: a notebook with some answer cells replaced, and the points it must lose."""

    name: str
    notebook: str
    cells: dict[str, str]  # answer grade_id -> the whole cell (edits already applied)
    expect_lost: dict[str, float]
    expect_message: dict[str, str] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    doc: str = ""


@dataclass
class Result:
    """What nbgrader gave one notebook of one student."""

    scores: dict[str, tuple[float, float]]  # test grade_id -> (score, max score)
    errors: dict[str, tuple[str, str]]  # test grade_id -> (exception name, message)
    exported: float | None = None  # the student's total in `nbgrader export`'s grades.csv
    output_chars: int = 0  # printed text kept in the graded notebook (huge prints are cut)


def load_cases(folder: Path = CASES) -> list[Case]:
    """Every case file of ``folder``, sorted by name."""
    cases = []
    for path in sorted(folder.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"case_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        cells = dict(getattr(module, "CELLS", {}))
        edits = getattr(module, "EDITS", {})
        if edits:
            reference = reference_answers(module.NOTEBOOK)
            for grade_id, changes in edits.items():
                cells[grade_id] = apply_edits(reference[grade_id], changes, f"{path.name} [{grade_id}]")
        cases.append(
            Case(
                name=path.stem,
                notebook=module.NOTEBOOK,
                cells=cells,
                expect_lost=dict(module.EXPECT_LOST),
                expect_message=dict(getattr(module, "EXPECT_MESSAGE", {})),
                delete=list(getattr(module, "DELETE", [])),
                doc=next(iter((module.__doc__ or "").strip().splitlines()), ""),
            )
        )
    return cases


def apply_edits(source: str, changes: list[tuple[str, str]], where: str) -> str:
    """``source`` with every occurrence of each old text replaced; an edit that no longer applies is an error."""
    for old, new in changes:
        if old not in source:
            raise ValueError(f"{where}: {old!r} is not in the reference answer any more: update the case")
        source = source.replace(old, new)
    return source


def student_id(case_name: str) -> str:
    """A student id nbgrader accepts (letters, digits, underscores)."""
    return "case_" + re.sub(r"\W", "_", case_name)


def _is_answer(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


@functools.cache
def _source(stem: str) -> nbformat.NotebookNode:
    """A source notebook, read once per run (cases, submissions and checks all need it)."""
    return nbformat.read(SOURCE / f"{stem}.ipynb", as_version=4)


def reference_answers(notebook: str) -> dict[str, str]:
    """grade_id -> the source notebook's answer cell with the solution markers removed."""
    return {
        grade_id(cell): "\n".join(line for line in cell.source.splitlines() if not MARKERS.match(line))
        for cell in _source(notebook).cells
        if _is_answer(cell)
    }


def secret_lines(stem: str, min_length: int = 30) -> set[str]:
    """Substantial lines that only the instructor's version holds (solutions, hidden tests)."""
    hidden: set[str] = set()
    given: set[str] = set()  # the other lines of answer cells
    for cell in _source(stem).cells:
        if _is_answer(cell) and cell.cell_type == "markdown":  # a question graded by hand: the model answer
            hidden.update(line.strip() for line in cell.source.splitlines())
            continue
        inside = False
        for line in cell.source.splitlines():
            if re.match(r"\s*### BEGIN (SOLUTION|HIDDEN TESTS)", line):
                inside = True
            elif re.match(r"\s*### END (SOLUTION|HIDDEN TESTS)", line):
                inside = False
            elif inside:
                hidden.add(line.strip())
            elif _is_answer(cell):
                given.add(line.strip())
    return {line for line in hidden - given if len(line) >= min_length and not line.startswith(("#", '"""'))}


def fill(release: Path, answers: dict[str, str], delete: list[str] | tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The release notebook at ``release`` with the given cells rewritten and others deleted."""
    nb = nbformat.read(release, as_version=4)
    unknown = (set(answers) | set(delete)) - {grade_id(cell) for cell in nb.cells}
    if unknown:
        raise ValueError(f"{release.name} has no cell {sorted(unknown)}")
    for cell in nb.cells:
        if (cell_id := grade_id(cell)) in answers:
            cell.source = answers[cell_id]
    nb.cells = [cell for cell in nb.cells if grade_id(cell) not in delete]
    return nb


def make_course(workdir: Path, timeout: int | None = None) -> None:
    """A scratch course directory that grades the repository's notebooks with the real config."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = (HERE / "nbgrader_config.py").read_text()
    # The kit's preprocessors are imported from autograder/, not from the scratch folder.
    config = config.replace("KIT = HERE\n", f"KIT = Path({str(HERE)!r})\n")
    config += (
        "\n# Scratch round (autograder/grading_round.py): same settings, another folder.\n"
        f"c.CourseDirectory.root = {str(workdir)!r}\n"
        f"c.CourseDirectory.source_directory = {str(REPO / 'notebooks')!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{workdir / 'gradebook.db'}'\n"
    )
    if timeout is not None:
        config += f"c.Execute.timeout = {timeout}\n"
    (workdir / "nbgrader_config.py").write_text(config)


def _run(workdir: Path, name: str, command: list[str]) -> None:
    """Run ``command`` in ``workdir``, its output appended to ``workdir/nbgrader.log``; a failure raises, with its cause."""
    log = workdir / "nbgrader.log"
    with open(log, "ab") as handle:
        handle.write(f"\n$ {name}\n".encode())
        handle.flush()
        start = handle.tell()
        done = subprocess.run(command, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        # SafeExecute's GradingEnvironmentError says what the machine lacks, grade_class.py which students failed:
        # show it, not only the log's path.
        from safe_execute import environment_error  # next to this script; imports nbgrader, so only here

        with open(log, "rb") as handle:
            output = handle.read()[start:].decode(errors="replace")
        failed = [line.strip() for line in output.splitlines() if line.lstrip().startswith(("failed ", "error:"))]
        cause = environment_error(output) or "; ".join(failed)[:2000]
        raise RuntimeError(f"{name} failed (exit {done.returncode}){': ' + cause if cause else ''}; see {log}")


def nbgrader(workdir: Path, *args: str) -> None:
    """Run one nbgrader command in ``workdir`` (see ``_run``)."""
    _run(workdir, f"nbgrader {' '.join(args)}", [sys.executable, "-m", "nbgrader", *args])


def submit(workdir: Path, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """Place a student's notebooks where ``nbgrader autograde`` collects them."""
    folder = workdir / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")


def read_result(workdir: Path, student: str, notebook: str) -> Result:
    """Scores from the gradebook and failure messages from the autograded notebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
        # A question graded by hand has no score until a person grades it (the blank's unchanged stub gets 0).
        scores = {
            grade.name: (float(grade.score), float(grade.max_score))
            for grade in submission.grades
            if grade.max_score and (grade.auto_score is not None or grade.manual_score is not None)
        }
    graded = nbformat.read(workdir / "autograded" / student / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    errors, chars = {}, 0
    for cell in graded.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                chars += len(output.get("text", ""))
            elif output.get("output_type") == "error" and (cell_id := grade_id(cell)):
                errors[cell_id] = (output.get("ename", ""), output.get("evalue", ""))
    return Result(scores, errors, output_chars=chars)


def exported_scores(workdir: Path) -> dict[str, float]:
    """Each student's total for the assignment, as ``nbgrader export`` writes it in grades.csv."""
    import csv

    nbgrader(workdir, "export", "--to", str(workdir / "grades.csv"))
    with open(workdir / "grades.csv", newline="") as handle:
        return {
            row["student_id"]: float(row["raw_score"])
            for row in csv.DictReader(handle)
            if row["assignment"] == ASSIGNMENT
        }


def grade_class(workdir: Path, *args: str) -> None:
    """Run ``grade_class.py`` on the course in ``workdir`` (see ``_run``)."""
    command = [sys.executable, str(HERE / "grade_class.py"), "--course", str(workdir), *args]
    _run(workdir, f"grade_class.py {' '.join(args)}", command)


def run_round(
    workdir: Path, cases: list[Case], notebooks: list[str] | None = None, timeout: int | None = None
) -> dict[tuple[str, str], Result]:
    """Release, submit (reference, blank, one student per case), grade with two workers; results by (student, notebook)."""
    make_course(workdir, timeout)
    nbgrader(workdir, "generate_assignment", ASSIGNMENT, "--force")
    release = workdir / "release" / ASSIGNMENT
    names = notebooks or sorted(path.stem for path in SOURCE.glob("*.ipynb"))
    submit(workdir, "reference", {name: fill(release / f"{name}.ipynb", reference_answers(name)) for name in names})
    submit(workdir, "blank", {name: nbformat.read(release / f"{name}.ipynb", as_version=4) for name in names})
    graded: list[tuple[str, str]] = [(student, name) for student in ("reference", "blank") for name in names]
    for case in cases:
        if case.notebook not in names:
            continue
        answers = {**reference_answers(case.notebook), **case.cells}
        student = student_id(case.name)
        submit(workdir, student, {case.notebook: fill(release / f"{case.notebook}.ipynb", answers, case.delete)})
        graded.append((student, case.notebook))
    # The class graded as an instructor grades it (nbgrader's autograde in parallel workers, each notebook
    # in its own kernel), then the next two commands: feedback and the grades export.
    grade_class(workdir, "--jobs", "2")
    nbgrader(workdir, "generate_feedback", ASSIGNMENT, "--force")
    exported = exported_scores(workdir)
    results = {(student, name): read_result(workdir, student, name) for student, name in graded}
    for (student, _name), result in results.items():
        result.exported = exported.get(student)
    return results


def problems(case: Case, result: Result) -> list[str]:
    """How the graded case differs from what it declares (empty when it matches)."""
    found = []
    for test, (score, max_score) in sorted(result.scores.items()):
        lost = max_score - score
        expected = case.expect_lost.get(test, 0)
        if abs(lost - expected) > 1e-9:
            ename, message = result.errors.get(test, ("", ""))
            found.append(f"{test}: lost {lost:g} of {max_score:g}, expected {expected:g} ({ename}: {message[:300]})")
    for test in set(case.expect_lost) - set(result.scores):
        found.append(f"{test}: no such graded test cell in {case.notebook}")
    for test, (ename, message) in result.errors.items():
        if test in result.scores and ename != "CheckFailed" and case.expect_lost.get(test):
            found.append(f"{test}: failed with {ename} ({message[:200]}) instead of a CheckFailed explanation")
    got = sum(score for score, _ in result.scores.values())
    if result.exported is None or abs(result.exported - got) > 1e-9:
        found.append(f"nbgrader export reports {result.exported} for this student, the gradebook {got:g}")
    for test, words in case.expect_message.items():
        message = result.errors.get(test, ("", ""))[1]
        if words.lower() not in message.lower():
            found.append(f"{test}: the message {message[:300]!r} does not mention {words!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES, help="folder of case files")
    parser.add_argument("--notebook", action="append", help="grade only this notebook (repeatable)")
    parser.add_argument("--keep", type=Path, help="course folder to use and keep (default: a temporary one)")
    parser.add_argument("--timeout", type=int, help="seconds per cell (default: nbgrader_config.py's)")
    args = parser.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="ganlab_round_"))
    cases = load_cases(args.cases)
    try:
        results = run_round(workdir, cases, args.notebook, args.timeout)
    except RuntimeError as error:  # a failed nbgrader command: its message says why
        kept = "" if args.keep else " (deleted with the scratch folder: --keep DIR keeps it)"
        print(f"error: {error}{kept}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    failures = 0
    for (student, name), result in sorted(results.items()):
        got = sum(s for s, _ in result.scores.values())
        total = sum(m for _, m in result.scores.values())
        if student == "reference":
            bad = [f"{t}: {s:g}/{m:g}" for t, (s, m) in result.scores.items() if s != m]
        elif student == "blank":
            bad = [f"{t}: {s:g}/{m:g}" for t, (s, m) in result.scores.items() if s != 0]
        else:
            case = next(c for c in cases if student_id(c.name) == student)
            bad = problems(case, result)
        failures += bool(bad)
        print(f"{'FAIL' if bad else 'ok  '} {student:40s} {name:20s} {got:g}/{total:g}")
        for line in bad:
            print(f"       {line}")
    print(f"{len(results)} graded notebooks, {failures} unexpected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
