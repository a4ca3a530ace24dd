"""The class report: what a graded class got wrong, who may have copied, and how each student stands.

    python class_report.py                          # from autograder/, after `make grade`
    python class_report.py --course /tmp/round --threshold 0.7

Reads the gradebook and the autograded notebooks; writes ``reports/<assignment>/index.html`` and
``summary.json``. README.md, "Reading the class report", says what it shows.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import nbformat
import similarity
import tampering

from ganlab import exercises as lab

HERE = Path(__file__).resolve().parent
ASSIGNMENT = "ganlab"
EXAMPLES = 3  # anonymised examples linked from each group of failure messages
SHOWN_PAIRS = 300  # similar pairs drawn side by side in the page (all of them are in summary.json)


@dataclass
class Failure:
    """Why one student lost points on one exercise."""

    student: str
    kind: str  # "mistake" (a check's message), "error" (their code raised), "not answered", "kernel death"
    message: str


@dataclass
class ClassData:
    """Everything the report needs, read once from the gradebook and the course folder."""

    assignment: str
    notebooks: dict[str, list[lab.Exercise]]  # notebook -> its autograded exercises (ganlab/exercises.py), in order
    manual: dict[str, list[lab.Exercise]]  # notebook -> its questions graded by hand
    students: list[str]
    # (student, notebook, cell) -> (score, max score, waiting for a manual grade)
    grades: dict[tuple[str, str, str], tuple[float, float, bool]]
    status: dict[tuple[str, str], str]  # (student, notebook) -> "graded" | "not handed in" | "not graded"
    failures: dict[tuple[str, str], list[Failure]]  # (notebook, test) -> failures
    kernel_deaths: list[dict]
    answers: dict[tuple[str, str], dict[str, str]]  # (notebook, answer cell) -> student -> code
    given: dict[str, list[str]] = field(default_factory=dict)  # notebook -> code every student received
    model: dict[tuple[str, str], str] = field(default_factory=dict)  # (notebook, answer cell) -> model solution
    look: list[dict] = field(default_factory=list)  # answer-cell lines that reach into the grading machinery


def fail(message: str) -> None:
    """Stop with one clear error line (no traceback) and exit status 1."""
    raise SystemExit(f"error: {message}")


def errors_of(cell: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(exception name, message) of each error output of a cell."""
    return [
        (o.get("ename", ""), o.get("evalue", "")) for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]


def classify(test_errors: list[tuple[str, str]], answer_errors: list[tuple[str, str]]) -> tuple[str, str]:
    """(kind, message) of a lost exercise, from the errors of its test cell and answer cells."""
    everything = test_errors + answer_errors
    died = [message for ename, message in everything if ename == "KernelDied"]
    if died:
        return "kernel death", died[0]
    # The release stub raises NotImplementedError: in the answer cell, or when the test calls the function.
    if any(ename == "NotImplementedError" or "NotImplementedError" in message for ename, message in everything):
        return "not answered", "the answer still raises NotImplementedError"
    checks = [message for ename, message in test_errors if ename == "CheckFailed"]
    if answer_errors:  # their own cell failed first (a syntax error, a timeout...): the test only saw the fallout
        ename, message = answer_errors[0]
        cause = f"the answer cell raised {ename}{': ' + message if message else ''}"
        return "error", f"{cause}; the test says: {checks[0]}" if checks else cause
    if checks:
        return "mistake", checks[0]
    if test_errors:
        ename, message = test_errors[0]
        return "error", f"{ename}: {message}"
    return "mistake", "(points lost without a message)"


# Numbers (64x64 too), hex addresses and quoted names vary while the mistake stays: placeholders in the grouping key.
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")
_QUOTED = re.compile(r"(?<!\w)('[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`)(?!\w)")
_SPACES = re.compile(r"\s+")


def mistake_key(message: str) -> str:
    """The message with what varies between students (numbers, quoted names) replaced, for grouping."""
    text = _HEX.sub("0x…", message.strip())
    text = _QUOTED.sub("'…'", text)
    text = _NUMBER.sub("#", text)
    return _SPACES.sub(" ", text)[:400]


def read_grades(gradebook_url: str, assignment: str) -> tuple[list[str], dict]:
    """(every student of the gradebook, (student, notebook, cell) -> (score, max score, waiting for a manual grade))."""
    from nbgrader import api

    with api.Gradebook(gradebook_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except api.MissingEntry:
            known = ", ".join(a.name for a in gradebook.assignments) or "none"
            fail(f"the gradebook has no assignment {assignment!r} (it has: {known}): pass --assignment")
        students = sorted(student.id for student in gradebook.students)
        # One query for the whole class: the ORM's per-object loading would cost one query per grade.
        grade, cell, notebook, submitted = api.Grade, api.GradeCell, api.SubmittedNotebook, api.SubmittedAssignment
        rows = (
            gradebook.db.query(submitted.student_id, api.Notebook.name, cell.name, grade.score, cell.max_score)
            .add_columns(grade.needs_manual_grade, grade.manual_score)
            .select_from(grade)
            .join(cell, grade.cell_id == cell.id)
            .join(notebook, grade.notebook_id == notebook.id)
            .join(submitted, notebook.assignment_id == submitted.id)
            .join(api.Assignment, submitted.assignment_id == api.Assignment.id)
            .join(api.Notebook, cell.notebook_id == api.Notebook.id)
            .filter(api.Assignment.name == assignment)
            .all()
        )
    # Waiting: flagged and not scored by hand yet (formgrader clears the flag; a score set through the API may not).
    grades = {
        (student, notebook, cell): (float(score or 0), float(top or 0), bool(needs) and manual is None)
        for student, notebook, cell, score, top, needs, manual in rows
    }
    return students, grades


def collect(course: Path, assignment: str, source: Path) -> ClassData:
    """Read the gradebook, the release and source notebooks and every autograded notebook."""
    database = course / "gradebook.db"
    if not database.is_file():
        fail(f"no gradebook at {database}: grade the class first (make grade), or pass --course")
    release = course / "release" / assignment
    if not release.is_dir():
        fail(f"no release notebooks in {release}: run `make release` (the report reads the code students got)")
    notebooks, manual, given = {}, {}, {}
    for path in sorted(release.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        notebooks[path.stem] = [e for e in lab.of_notebook(path.stem) if not e.manual]
        manual[path.stem] = [e for e in lab.of_notebook(path.stem) if e.manual]
        given[path.stem] = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    model = {}
    if source.is_dir():  # the model solutions
        for path in sorted(source.glob("*.ipynb")):
            cells = tampering.answer_cells(nbformat.read(path, as_version=4))
            model |= {(path.stem, cell_id): code for cell_id, code in cells.items()}

    students, grades = read_grades(f"sqlite:///{database}", assignment)
    handed_in = {path.parent.name for path in (course / "submitted").glob(f"*/{assignment}") if path.is_dir()}
    students = sorted(set(students) | handed_in)
    status: dict[tuple[str, str], str] = {}
    failures: dict[tuple[str, str], list[Failure]] = defaultdict(list)
    answers: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    deaths, look = [], []
    for student in students:
        for name, exercises in notebooks.items():
            graded = course / "autograded" / student / assignment / f"{name}.ipynb"
            sent = course / "submitted" / student / assignment / f"{name}.ipynb"
            if not graded.is_file():
                status[(student, name)] = "not graded" if sent.is_file() else "not handed in"
                continue
            status[(student, name)] = "graded"
            nb = nbformat.read(graded, as_version=4)
            ids = [lab.grade_id(cell) for cell in nb.cells]
            cells = {cell_id: cell for cell_id, cell in zip(ids, nb.cells) if cell_id}
            for cell_id, cell in cells.items():
                for ename, message in errors_of(cell):
                    if ename == "KernelDied" and not message.startswith("not run"):
                        deaths.append({"student": student, "notebook": name, "cell": cell_id, "message": message})
            labels = {e.answer_id: {"number": e.number, "title": e.title} for e in exercises}
            for cell_id, code in tampering.answer_cells(nb).items():
                where = {"student": student, "notebook": name, "cell": cell_id, "number": "", "title": cell_id}
                look += [{**where, **labels.get(cell_id, {}), **asdict(f)} for f in tampering.scan(code)]
            for exercise in exercises:
                test, answer = exercise.test_id, exercise.answer_id
                if answer in cells:
                    answers[(name, answer)][student] = cells[answer].source
                score, top, _ = grades.get((student, name, test), (0.0, exercise.points, False))
                if score >= top:
                    continue
                kind, message = classify(errors_of(cells.get(test, {})), errors_of(cells.get(answer, {})))
                failures[(name, test)].append(Failure(student, kind, message))
    return ClassData(
        assignment, notebooks, manual, students, grades, status, failures, deaths, answers, given, model, look
    )


def similar(
    data: ClassData, threshold: float, min_tokens: int, workers: int | None = None
) -> tuple[list[similarity.Pair], list[similarity.ExerciseSimilarity]]:
    """The similarity pass: every exercise's answers, with the code students received and the model's."""
    compared = [(name, answer, codes, data.given.get(name, []), data.model.get((name, answer), ""))
                for (name, answer), codes in sorted(data.answers.items())]  # fmt: skip
    return similarity.compare_all(compared, threshold, min_tokens, workers)


def summarise(
    data: ClassData, threshold: float, min_tokens: int, run_similarity: bool = True, workers: int | None = None
) -> dict:
    """The report's content as plain data: what ``summary.json`` holds and the HTML page shows."""

    def score(student: str, notebook: str, exercise: lab.Exercise) -> float:
        return data.grades.get((student, notebook, exercise.test_id), (0.0, 0.0, False))[0]

    def having(state: str, notebook: str) -> list[str]:
        return [s for s in data.students if data.status[(s, notebook)] == state]

    nobody = [s for s in data.students if all(data.status[(s, n)] == "not handed in" for n in data.notebooks)]
    exercises, notebooks, manual = [], [], []
    by_student: dict[str, list[dict]] = defaultdict(list)
    for name, items in data.notebooks.items():
        graded = having("graded", name)
        notebooks.append({
            "notebook": name,
            "max_points": sum(e.points for e in items),
            "graded": len(graded),
            "not_handed_in": len(having("not handed in", name)),
            "not_graded": having("not graded", name),
            "scores": sorted(sum(score(s, name, e) for e in items) for s in graded),
        })  # fmt: skip
        for exercise in items:
            top = exercise.points
            scores = [score(s, name, exercise) for s in graded]
            for s, got in zip(graded, scores):
                if got < top:
                    by_student[s].append({"notebook": name, "number": exercise.number, "test": exercise.test_id,
                                          "lost": top - got})  # fmt: skip
            groups: dict[tuple[str, str], list[Failure]] = defaultdict(list)
            for failure in data.failures.get((name, exercise.test_id), []):
                key = mistake_key(failure.message) if failure.kind in ("mistake", "error") else failure.kind
                groups[(failure.kind, key)].append(failure)
            exercises.append({
                "notebook": name,
                "number": exercise.number,
                "title": exercise.title,
                "test": exercise.test_id,
                "answer_cells": [exercise.answer_id],
                "max_points": top,
                "graded": len(graded),
                "full": sum(got >= top for got in scores),
                "partial": sum(0 < got < top for got in scores),
                "zero": sum(got <= 0 for got in scores),
                "scores": scores,
                "groups": [
                    {"kind": kind, "key": key, "message": members[0].message, "count": len(members),
                     "students": sorted(f.student for f in members)}
                    for (kind, key), members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
                ],
            })  # fmt: skip
        for exercise in data.manual.get(name, []):
            entries = [data.grades.get((s, name, exercise.test_id), (0.0, 0.0, True)) for s in graded]
            waiting = [s for s, entry in zip(graded, entries) if entry[2]]
            manual.append({
                "notebook": name, "number": exercise.number, "question": exercise.test_id,
                "max_points": exercise.points, "graded": len(graded) - len(waiting), "waiting": len(waiting),
                "waiting_students": waiting,
            })  # fmt: skip
    totals = dict.fromkeys(data.students, 0.0)  # every grade counts, hand-graded ones too, as in `nbgrader export`
    for (student, _, _), (got, _, _) in data.grades.items():
        totals[student] = totals.get(student, 0.0) + got
    maximum = sum(lab.max_points(name) for name in data.notebooks)
    ordered = sorted(totals.values(), reverse=True)
    rank = {s: 1 + ordered.index(total) for s, total in totals.items()}  # equal totals share a rank: 1, 2, 2, 4
    ranking = [
        {
            "student": s,
            "total": totals[s],
            "max_points": maximum,
            "rank": rank[s],
            "lost": by_student[s],
            "not_handed_in": [n for n in data.notebooks if data.status[(s, n)] == "not handed in"],
            "not_graded": [n for n in data.notebooks if data.status[(s, n)] == "not graded"],
        }
        for s in sorted(data.students, key=lambda s: (rank[s], s))
    ]
    pairs, stats = similar(data, threshold, min_tokens, workers) if run_similarity else ([], [])
    return {
        "assignment": data.assignment,
        "students": len(data.students),
        "graded_students": len({s for (s, _), state in data.status.items() if state == "graded"}),
        "no_submission": nobody,
        "not_graded": [{"student": s, "notebook": n} for (s, n), state in sorted(data.status.items()) if state == "not graded"],
        "kernel_deaths": data.kernel_deaths,
        "look_at_these": data.look,
        "notebooks": notebooks,
        "exercises": exercises,
        "manual": manual,
        "ranking": ranking,
        "similar_pairs": [asdict(pair) for pair in pairs],
        "similarity": {
            "library": f"copydetect {version('copydetect')}",
            "threshold": threshold,
            "min_tokens": min_tokens,
            "ran": run_similarity,
            "exercises": [asdict(item) for item in stats],
        },
    }  # fmt: skip


def histogram(work: Path, item: dict, name: str, title: str) -> None:
    """A small PNG bar chart of the scores of ``item`` (a notebook or an exercise) as its ``image``, if any."""
    if not item["graded"]:
        return
    import matplotlib

    matplotlib.use("Agg")  # files only: the report is static
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    scores, item["image"] = item["scores"], f"img/{name}.png"
    values = sorted(set(scores) | {0.0, item["max_points"]})
    counts = [sum(1 for s in scores if s == value) for value in values]
    figure, axes = plt.subplots(figsize=(3.2, 1.8), dpi=90)
    axes.bar([f"{v:g}" for v in values], counts, color="#4a77b4")
    axes.set_title(title, fontsize=8)
    axes.set_xlabel("points", fontsize=7)
    axes.set_ylabel("students", fontsize=7)
    axes.tick_params(labelsize=6)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of students
    figure.tight_layout()
    figure.savefig(work / item["image"])
    plt.close(figure)


def write_report(summary: dict, data: ClassData, out: Path) -> None:
    """index.html, summary.json, the PNG histograms and the example pages, in ``out`` (replaced whole)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build next to the old report and swap at the end: a failed run leaves the previous report whole.
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    pages = environment.get_template("class_report.html.j2").module  # its macros: index, example
    try:
        (work / "img").mkdir()
        (work / "examples").mkdir()
        for notebook in summary["notebooks"]:
            histogram(work, notebook, notebook["notebook"], notebook["notebook"])
        for index, exercise in enumerate(summary["exercises"]):
            label = f"{exercise['number']} {exercise['title']}".replace("`", "")
            histogram(work, exercise, f"{exercise['notebook']}-{exercise['test']}", label)
            failures = data.failures.get((exercise["notebook"], exercise["test"]), [])
            for number, group in enumerate(exercise["groups"]):
                group["examples"] = []
                for k, student in enumerate(group["students"][:EXAMPLES]):
                    page = f"examples/{index:03d}-{number:03d}-{k}.html"
                    message = next(f.message for f in failures if f.student == student)
                    code = {a: data.answers.get((exercise["notebook"], a), {}).get(student, "(no cell)")
                            for a in exercise["answer_cells"]}  # fmt: skip
                    (work / page).write_text(
                        pages.example(exercise=exercise, group=group, k=k + 1, message=message, code=code)
                    )
                    group["examples"].append(page)
        (work / "index.html").write_text(pages.index(s=summary, shown=SHOWN_PAIRS))
        public = json.loads(json.dumps(summary))
        for item in public["exercises"] + public["notebooks"]:
            item.pop("image", None)
        for pair in public["similar_pairs"]:  # the side-by-side HTML is for the page, not for other tools
            pair.pop("a_html"), pair.pop("b_html")
        (work / "summary.json").write_text(json.dumps(public, indent=1) + "\n")
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        work.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=HERE, help="the nbgrader course folder (default: this one)")
    parser.add_argument("--assignment", default=ASSIGNMENT)
    parser.add_argument("--out", type=Path, help="report folder (default: COURSE/reports/ASSIGNMENT)")
    parser.add_argument(
        "--source", type=Path, help="source notebooks with the model solutions (default: ../notebooks/ASSIGNMENT)"
    )
    parser.add_argument("--threshold", type=float, default=similarity.THRESHOLD,
                        help=f"similarity score that flags a pair, 0..1 (default {similarity.THRESHOLD})")  # fmt: skip
    parser.add_argument("--min-tokens", type=int, default=similarity.MIN_TOKENS,
                        help=f"shorter answers are not compared (default {similarity.MIN_TOKENS})")  # fmt: skip
    parser.add_argument("--no-similarity", action="store_true", help="skip the similarity pass")
    parser.add_argument("--jobs", type=int, help="processes for the similarity pass (default: one per core)")
    args = parser.parse_args(argv)
    if not 0 < args.threshold <= 1:
        fail(f"--threshold {args.threshold} must be in (0, 1]: a share of copied code, for example 0.8")
    course = args.course.resolve()
    source = args.source or HERE.parent / "notebooks" / args.assignment
    data = collect(course, args.assignment, source)
    summary = summarise(data, args.threshold, args.min_tokens, not args.no_similarity, args.jobs)
    out = args.out or course / "reports" / args.assignment
    write_report(summary, data, out)
    print(
        f"{out / 'index.html'}: {summary['students']} students, {len(summary['exercises'])} exercises, "
        f"{len(summary['similar_pairs'])} similar pairs, {len(summary['kernel_deaths'])} kernel deaths"
    )
    cells = {(x["student"], x["notebook"], x["cell"]) for x in summary["look_at_these"]}
    if cells:
        print(f"look at these: {len(cells)} answer cells reach into the grading machinery (class report)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
