"""The class report, the similarity check and the Canvas/Moodle exports: the parts alone, then a copy of the
grading round with two students copying one answer, a notebook that is not JSON and a student who handed in nothing."""

from __future__ import annotations

import csv
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import class_report  # autograder/ (on sys.path from conftest.py)
import grading_round as gr
import pytest
import similarity
import tampering

from ganlab import exercises as lab

from .helpers import AUTOGRADER, ROOT, run_python

CHROMIUM = "/usr/bin/chromium"
COPIES = ("copy_a", "copy_b")
CORRUPT, NOBODY = "zz_corrupt", "zz_nobody"


RENAMES = {
    "copy_a": {"cin": "c_in", "cout": "c_out", "conv_bn_act": "conv_norm_act", "channels": "widths", "size": "side",
               "X": "batch"},
    "copy_b": {"cin": "n_in", "cout": "n_out", "conv_bn_act": "triple", "channels": "chs", "size": "hw",
               "X": "images"},
}  # fmt: skip


def rename(code: str, names: dict[str, str]) -> str:
    for old, new in names.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def move_blank_lines(code: str) -> str:
    """The same statements with the blank lines elsewhere."""
    lines = [line for line in code.splitlines() if line.strip()]
    return "\n".join(line + ("\n" if i % 3 == 1 else "") for i, line in enumerate(lines))


def copied_answers() -> dict[str, dict[str, str]]:
    """Two students' 02_critic answers made from the catalogue's independent valid style, both keeping a bias
    before BatchNorm (the ``02_bias_before_batchnorm`` mistake another way): their failure groups with it."""
    cases = {case.name: case for case in gr.load_cases()}
    original = cases["02_alternative_sequential"].cells
    made = {}
    for student, names in RENAMES.items():
        cells = {cell: rename(code, names) for cell, code in original.items()}
        cells["cblock"] = cells["cblock"].replace("bias=False", "bias=True")
        if student == "copy_b":
            cells = {cell: move_blank_lines(code) for cell, code in cells.items()}
        made[student] = cells
    return made


# ---------------------------------------------------------------- the parts alone


def test_messages_that_differ_in_numbers_and_names_group_together() -> None:
    one = "CBlock(3, 8, 0.2) has 1 convolution(s) followed by BatchNorm that keep a bias: create them with bias=False"
    two = "CBlock(1, 16, 0.5) has 2 convolution(s) followed by BatchNorm that keep a bias: create them with bias=False"
    other = "CBlock(1, 16, 0.5): its LeakyReLU has the default slope 0.01: the lab uses nn.LeakyReLU(0.2)"
    key = class_report.mistake_key
    assert key(one) == key(two) and key(one) != key(other)
    assert key("name 'blocks' is not defined") == key("name 'x' is not defined")
    # An apostrophe is not a quote: the words after it stay part of the mistake.
    assert "lab's value" in key("differs from the lab's value 0.5")


def test_lost_points_are_classified_apart_from_mistakes() -> None:
    classify = class_report.classify
    assert classify([("CheckFailed", "x")], [("KernelDied", "this cell stopped")])[0] == "kernel death"
    assert classify([("CheckFailed", "f(1) fails: NotImplementedError: ")], [])[0] == "not answered"
    assert classify([("CheckFailed", "'f' is not defined")], [("SyntaxError", "invalid syntax")]) == (
        "error", "the answer cell raised SyntaxError: invalid syntax; the test says: 'f' is not defined")  # fmt: skip
    assert classify([("CheckFailed", "wrong slope")], []) == ("mistake", "wrong slope")


def test_similarity_sees_through_renamed_variables_and_moved_blank_lines() -> None:
    copies = copied_answers()
    independent = {case.name: case.cells for case in gr.load_cases() if case.name == "02_alternative_sequential"}
    reference = gr.reference_answers("02_critic")
    for cell in ("cblock", "discriminator"):
        a, b = (similarity.fingerprint(copies[s][cell]) for s in COPIES)
        assert similarity.score(a, b)[0] >= similarity.THRESHOLD, cell
        style = similarity.fingerprint(independent["02_alternative_sequential"][cell])
        assert similarity.score(style, similarity.fingerprint(reference[cell]))[0] < similarity.THRESHOLD, cell


def test_given_code_is_boilerplate() -> None:
    """Code every student received never makes two answers alike."""
    given = "def to_display(x: torch.Tensor) -> torch.Tensor:\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    body = "\n    lowest, highest = x.min(), x.max()\n    return ((x - lowest) / (highest - lowest)).clamp(0, 1)\n"
    other = "\n    shifted = torch.clamp((x + 1.0) * 0.5, min=0.0, max=1.0)\n    return shifted.to(torch.float32)\n"
    raw, cleaned = (  # the two answers compared as they are, then with the given code left out
        similarity.score(*(similarity.fingerprint(given + code, hashes) for code in (body, other)))[0]
        for hashes in (None, similarity.boilerplate_hashes((given,)))
    )
    assert cleaned < raw and cleaned < similarity.THRESHOLD


def hostile() -> set[str]:
    """The catalogue's cases whose answer cells reach into the grading machinery (as their docstring says)."""
    return {case.name for case in gr.load_cases() if case.doc.startswith(("Hostile", "Not their own work"))}


# (answer cell, the line of it that is flagged, why): each rule once.
REACHING = [
    ("import gc\nchecks = [o for o in gc.get_objects() if callable(o)]", 1, "garbage collector"),
    ("loaded = list(sys.modules)", 1, "reads sys.modules"),
    ("x = 1\ncaller = sys._getframe(1).f_globals", 2, "walks the call stack"),
    ("frame = inspect.currentframe().f_back", 1, "walks the call stack"),
    ("for record in inspect.stack():\n    record.frame.f_locals.clear()", 1, "walks the call stack"),
    ("import ctypes", 1, "ctypes"),
    ("labcheck.check = lambda *a, **k: None", 1, "rebinds a check function"),
    ("setattr(labcheck, 'check_shape', print)", 1, "rebinds a check function"),
    ("import builtins\nbuiltins.print = lambda *a: None", 2, "rebinds a builtin"),
    ("__builtins__['len'] = lambda x: 0", 1, "rebinds a builtin"),
    ("torch.allclose = lambda *a, **k: True", 1, "patches torch"),
    ("delattr(F, 'relu')", 1, "patches torch"),
    ("globals()['test_cblock'] = None", 1, "rewrites the notebook's globals"),
    ("def f():\n    pass\n\n\nf.__code__ = (lambda: 1).__code__", 5, "function's internals"),
    ("tensor.__class__ = MyTensor", 1, "changes an object's class"),
    ("classes = object.__subclasses__()", 1, "walks the class tree"),
    ("text = open('guard.py').read()", 1, "opens a file"),
    ("from pathlib import Path\n\nPath('x.py').read_text()", 3, "reads files"),
    ("source = inspect.getsource(check_critic_loss)", 1, "reads source code"),
    ("import importlib.resources", 1, "imports by name"),
    ("where = torch.__file__", 1, "locates package files"),
    ("import linecache", 1, "reads source code"),
    ("folder = '/usr/lib/python3/site-packages'", 1, "installed package files"),
    ("losses = __import__('math')", 1, "imports by name"),
    ("from ganlab_solution.losses import critic_loss", 1, "reference package"),
    ("import ganlab.labcheck.core as core", 1, "the checks"),
    ("exec(code_text)", 1, "runs code built at run time"),
    ("f = eval('lambda x: x')", 1, "runs code built at run time"),
    ("import os\nos.kill(os.getppid(), 9)", 2, "sends signals"),
    ("import signal", 1, "signals"),
    ("import subprocess", 1, "other programs"),
    ("os.system('true')", 1, "other programs"),
    ("from os import fork", 1, "other programs"),
    ("%load_ext autoreload\n!ls\nimport gc", 3, "garbage collector"),  # magics are skipped, lines still counted
]


@pytest.mark.parametrize(("cell", "line", "why"), REACHING)
def test_answer_lines_that_reach_into_the_grading_machinery_are_found(cell: str, line: int, why: str) -> None:
    found = tampering.scan(cell)
    assert [(f.line, f.code) for f in found][:1] == [(line, cell.split("\n")[line - 1])], found
    assert why in found[0].why


def test_honest_answers_and_unparsable_cells_are_not_flagged() -> None:
    """Every reference answer (the source notebooks' and the reference package's) and every honest case is clean."""
    honest = {f"{name} [{cell}]": code for name in lab.NOTEBOOKS for cell, code in gr.reference_answers(name).items()}
    for exercise in lab.EXERCISES:
        if exercise.reference:
            module = importlib.import_module(exercise.reference_module)
            honest[exercise.reference] = inspect.getsource(getattr(module, exercise.reference.split(":")[1]))
    assert len(honest) > 40
    assert {where: tampering.scan(code) for where, code in honest.items() if tampering.scan(code)} == {}
    flagged = {case.name for case in gr.load_cases() for code in case.cells.values() if tampering.scan(code)}
    assert flagged == hostile() and len(flagged) >= 5
    assert tampering.scan("import gc\ndef broken(:\n") == []  # does not parse: not scanned
    # Names that only look alike: attributes of the student's own objects, other libraries' compile.
    assert tampering.scan("net = torch.compile(net)\npattern = re.compile('a+')\nself.signal = x.open(1)\n") == []


def run_report(*args: str) -> subprocess.CompletedProcess:
    return run_python(str(AUTOGRADER / "class_report.py"), *args)


def test_report_without_a_gradebook_is_one_clear_error(tmp_path: Path) -> None:
    done = run_report("--course", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no gradebook at {tmp_path / 'gradebook.db'}: grade the class first (make grade), or pass --course"
    ]
    done = run_report("--course", str(tmp_path), "--threshold", "3")
    assert done.returncode == 1 and done.stderr.startswith("error: --threshold 3.0 must be in (0, 1]")


def nbgrader_export(course: Path, exporter: str, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader export`` with one of the kit's plugins, as an instructor runs it (the kit on the path)."""
    path = os.pathsep.join([str(AUTOGRADER), str(ROOT)])
    return run_python(
        "-m", "nbgrader", "export", "--exporter", f"lms_export.{exporter}", *args, cwd=course, PYTHONPATH=path
    )


def write_roster(path: Path, students: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Email address",
                         "First name", "Last name"])  # fmt: skip
        for number, student in enumerate(students):
            writer.writerow([student, f"Student {number}", 4000 + number, f"S{number:04d}", f"login{number}", "A1",
                             f"{student}@example.org", "Student", str(number)])  # fmt: skip
    return path


@pytest.mark.slow
def test_roster_errors_are_one_line_and_keep_the_last_file(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    course = tmp_path  # its gradebook knows an assignment and two students (no grading needed)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.add_assignment("ganlab")
        gradebook.add_student("alice")
        gradebook.add_student("bob")
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
    )
    out = course / "grades_canvas.csv"
    out.write_text("the previous export\n")
    missing = nbgrader_export(course, "CanvasExporter", "--to", str(out))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "error: no roster: pass --CanvasExporter.roster=ROSTER.csv (columns student_id and ID or SIS User ID or "
        "SIS Login ID)"
    )
    roster = write_roster(course / "roster.csv", ["alice"])
    unknown = nbgrader_export(course, "MoodleExporter", f"--MoodleExporter.roster={roster}", "--to", str(out))
    assert unknown.returncode == 1
    last = unknown.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: 1 graded student(s) are not in the roster {roster}: bob; add a row")
    assert out.read_text() == "the previous export\n", "a failed export must not touch the last good file"
    (course / "bad.csv").write_text("name,grade\nalice,1\n")
    bad = nbgrader_export(course, "CanvasExporter", f"--CanvasExporter.roster={course / 'bad.csv'}")
    assert bad.returncode == 1 and "needs a column student_id" in bad.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------- a synthetic class, really graded


@pytest.fixture(scope="module")
def graded_class(grading_round: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The round's course, copied, with the copied pair, a corrupt notebook and an absent student added."""
    from nbgrader.api import Gradebook

    round_dir, results = grading_round
    if "02_critic" not in {notebook for _, notebook in results}:
        pytest.skip("GANLAB_ROUND_NOTEBOOKS left out 02_critic, which the synthetic class needs")
    course = tmp_path_factory.mktemp("class_report")
    gr.make_course(course)  # the real configuration, pointed at the copy
    for folder in ("release", "submitted", "autograded"):
        shutil.copytree(round_dir / folder, course / folder)
    shutil.copy(round_dir / "gradebook.db", course / "gradebook.db")
    release = course / "release" / gr.ASSIGNMENT / "02_critic.ipynb"
    for student, cells in copied_answers().items():
        gr.submit(course, student, {"02_critic": gr.fill(release, {**gr.reference_answers("02_critic"), **cells})})
    corrupt = course / "submitted" / CORRUPT / gr.ASSIGNMENT / "01_data.ipynb"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text("this is not a notebook")
    # One plain `nbgrader autograde`: it skips the students graded already and grades the new ones.
    failed = run_python("-m", "nbgrader", "autograde", gr.ASSIGNMENT, cwd=course)
    assert failed.returncode != 0, "nbgrader graded a file that is not a notebook"
    assert all((course / "autograded" / student).is_dir() for student in COPIES), failed.stdout + failed.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.add_student(NOBODY)  # on the class list, handed in nothing
        # The teaching assistant has graded one hand-graded question of one student.
        gradebook.find_grade("q_stride_downsample", "02_critic", gr.ASSIGNMENT, "reference").manual_score = 1.5
        gradebook.db.commit()
    done = run_report("--course", str(course))
    assert done.returncode == 0, done.stderr
    return course


def summary_of(course: Path) -> dict:
    return json.loads((course / "reports" / gr.ASSIGNMENT / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.grading
def test_per_exercise_counts_equal_the_gradebook(graded_class: Path) -> None:
    from nbgrader.api import Gradebook

    summary = summary_of(graded_class)
    expected = {}
    with Gradebook(f"sqlite:///{graded_class / 'gradebook.db'}") as gradebook:
        students = [student.id for student in gradebook.students]
        handed_in = {path.parent.name for path in (graded_class / "submitted").glob(f"*/{gr.ASSIGNMENT}")}
        autograded = graded_class / "autograded"
        assert summary["students"] == len(set(students) | handed_in)
        for notebook in gradebook.find_assignment(gr.ASSIGNMENT).notebooks:
            # Only students whose notebook was graded count: a missing notebook is not a zero answer.
            graded = [s for s in students if (autograded / s / gr.ASSIGNMENT / f"{notebook.name}.ipynb").is_file()]
            for cell in notebook.grade_cells:
                if cell.cell_type != "code":
                    continue
                scores = [gradebook.find_grade(cell.name, notebook.name, gr.ASSIGNMENT, s).score for s in graded]
                expected[(notebook.name, cell.name)] = {
                    "max_points": cell.max_score,
                    "full": sum(x >= cell.max_score for x in scores),
                    "partial": sum(0 < x < cell.max_score for x in scores),
                    "zero": sum(x == 0 for x in scores),
                }
    got = {(e["notebook"], e["test"]): {k: e[k] for k in ("max_points", "full", "partial", "zero")}
           for e in summary["exercises"]}  # fmt: skip
    assert got == expected
    cblock = next(e for e in summary["exercises"] if e["test"] == "test_cblock")
    assert cblock["zero"] >= 5 and cblock["full"] >= 3  # not a trivial class
    assert (cblock["number"], cblock["title"]) == ("2.2", "`CBlock`")  # labelled as ganlab/exercises.py says


@pytest.mark.slow
@pytest.mark.grading
def test_failures_group_by_the_catalogues_named_mistakes(graded_class: Path) -> None:
    summary = summary_of(graded_class)
    groups = {(e["notebook"], e["test"]): e["groups"] for e in summary["exercises"]}
    graded = {e["notebook"] for e in summary["exercises"] if e["graded"]}
    checked = 0
    for case in gr.load_cases():
        if case.notebook not in graded:
            continue
        for test, words in case.expect_message.items():
            if not test.startswith("test_"):
                continue  # a message in the answer cell itself (a kernel death: checked below)
            group = next(g for g in groups[(case.notebook, test)] if gr.student_id(case.name) in g["students"])
            if group["kind"] == "kernel death":
                words = next(w for cell, w in case.expect_message.items() if not cell.startswith("test_"))
            else:  # a mistake, or an error of the answer cell itself (then the check's words follow the error's)
                assert group["kind"] in ("mistake", "error"), (case.name, group)
            assert words.lower() in group["message"].lower(), (case.name, group)
            checked += 1
    assert checked >= 10
    # Three students made one mistake with different numbers in their message: one group, first in its table.
    bias = groups[("02_critic", "test_cblock")][0]
    assert {"case_02_bias_before_batchnorm", *COPIES} <= set(bias["students"]) and bias["count"] >= 3
    assert "bias" in bias["message"]
    # What is not a wrong answer is counted apart.
    kinds = {g["kind"]: g["students"] for g in groups[("02_critic", "test_cblock")]}
    assert kinds["kernel death"] == ["case_02_kernel_exit"] and "blank" in kinds["not answered"]
    assert {"student": "case_02_kernel_exit", "notebook": "02_critic", "cell": "cblock"}.items() <= next(
        d for d in summary["kernel_deaths"] if d["student"] == "case_02_kernel_exit").items()  # fmt: skip
    assert summary["not_graded"] == [{"student": CORRUPT, "notebook": "01_data"}]
    assert summary["no_submission"] == [NOBODY]
    manual = {q["question"]: q for q in summary["manual"]}
    assert manual["q_stride_downsample"]["graded"] >= 2  # the reference (by hand) and the blank (its stub: 0)
    assert "reference" not in manual["q_stride_downsample"]["waiting_students"]
    assert "case_02_squeeze" in manual["q_stride_downsample"]["waiting_students"]
    # The lab's hand-graded questions (ganlab/exercises.py): the reference's wait for a person, but the one graded.
    assert {"q_unit_range", "q_stride_downsample", "q_critic_accuracy"} <= set(manual)
    waiting = {name for name, q in manual.items() if "reference" in q["waiting_students"]}
    assert waiting == {name for name, q in manual.items() if q["notebook"] in graded} - {"q_stride_downsample"}
    # Ranks follow the totals, which include the hand-graded point and a half.
    ranking = {r["student"]: r for r in summary["ranking"]}
    every_test = sum(e["max_points"] for e in summary["exercises"] if e["graded"])  # the reference passes them all
    assert ranking["reference"]["rank"] == 1 and ranking["reference"]["total"] == pytest.approx(every_test + 1.5)
    assert {"notebook": "02_critic", "number": "2.2", "test": "test_cblock", "lost": 3.0} in ranking["copy_a"]["lost"]


@pytest.mark.slow
@pytest.mark.grading
def test_copied_answers_are_flagged_and_independent_styles_are_not(graded_class: Path) -> None:
    summary = summary_of(graded_class)
    pairs = summary["similar_pairs"]
    flagged = {(p["a"], p["b"], p["exercise"]) for p in pairs}
    assert ("copy_a", "copy_b", "cblock") in flagged and ("copy_a", "copy_b", "discriminator") in flagged
    # In their notebook everyone else wrote their own answer or kept the model's: only the copies and their
    # source are paired. (Elsewhere the catalogue has answers written by one author from one template.)
    assert {s for p in pairs if p["notebook"] == "02_critic" for s in (p["a"], p["b"])} <= {
        *COPIES, "case_02_alternative_sequential"}  # fmt: skip
    # The catalogue's independent valid styles are paired neither with the model's answer nor with each other.
    styles = {gr.student_id(case.name) for case in gr.load_cases() if "alternative" in case.name}
    assert not [p for p in pairs if "reference" in (p["a"], p["b"]) or {p["a"], p["b"]} <= styles]
    assert all(p["score"] >= summary["similarity"]["threshold"] for p in pairs)
    html = (graded_class / "reports" / gr.ASSIGNMENT / "index.html").read_text()
    assert "A flag is a reason to look, not a verdict." in html and "<mark>" in html


@pytest.mark.slow
@pytest.mark.grading
def test_answer_cells_that_reach_into_the_grading_machinery_are_listed(graded_class: Path) -> None:
    summary = summary_of(graded_class)
    look = summary["look_at_these"]
    graded = {e["notebook"] for e in summary["exercises"] if e["graded"]}
    # The hostile cases of the graded notebooks, and nobody else: not the reference, the blank or an honest mistake.
    expected = {
        gr.student_id(case.name) for case in gr.load_cases() if case.name in hostile() and case.notebook in graded
    }
    assert "case_02_noop_checks" in expected and {x["student"] for x in look} == expected
    cell = next(case for case in gr.load_cases() if case.name == "02_noop_checks").cells["conv_output_size"]
    line = "labcheck.check = lambda *args, **kwargs: None"
    expected = {"student": "case_02_noop_checks", "notebook": "02_critic", "cell": "conv_output_size",
                "number": "2.1", "title": "`conv_output_size`", "line": cell.split("\n").index(line) + 1,
                "code": line, "why": "rebinds a check function"}  # fmt: skip
    assert expected in look
    # grade_class.py's console line counts the same cells, from the autograded notebooks.
    notebooks = (graded_class / "autograded").glob(f"*/{gr.ASSIGNMENT}/*.ipynb")
    assert sum(map(tampering.flagged_cells, notebooks)) == len({(x["student"], x["notebook"], x["cell"]) for x in look})
    html = (graded_class / "reports" / gr.ASSIGNMENT / "index.html").read_text()
    assert "<h2>Look at these</h2>" in html and "A reason to look, not a verdict" in html
    assert "<code>labcheck.check = lambda *args, **kwargs: None</code>" in html


@pytest.mark.slow
@pytest.mark.grading
def test_canvas_and_moodle_exports_carry_every_student_once(graded_class: Path, tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded_class / 'gradebook.db'}") as gradebook:
        students = sorted(student.id for student in gradebook.students)
        assignment = gradebook.find_assignment(gr.ASSIGNMENT)
        maxima = {notebook.name: notebook.max_score for notebook in assignment.notebooks}
        maximum = assignment.max_score
    # The maximum the exports announce (the gradebook's, from the release) is the declaration's.
    assert maxima == {name: lab.max_points(name) for name in lab.NOTEBOOKS} and maximum == lab.max_points()
    roster = write_roster(tmp_path / "roster.csv", students)
    gr.nbgrader(graded_class, "export", "--to", str(tmp_path / "grades.csv"))
    nbgrader_totals = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(tmp_path / "grades.csv"))}
    login = {row["student_id"]: row for row in csv.DictReader(roster.open())}
    for exporter, key, column in (("CanvasExporter", "SIS User ID", "ganlab (123)"),
                                  ("MoodleExporter", "Email address", "ganlab")):  # fmt: skip
        out = tmp_path / f"{exporter}.csv"
        extra = ["--CanvasExporter.canvas_assignment_id=123"] if exporter == "CanvasExporter" else []
        done = nbgrader_export(graded_class, exporter, f"--{exporter}.roster={roster}", "--to", str(out), *extra)
        assert done.returncode == 0, done.stderr
        assert f"(out of {maximum:g})" in done.stderr
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0])[-1] == column
        by_id = {row[key]: float(row[column]) for row in rows}
        assert len(rows) == len(by_id) == len(students)  # each student once
        assert by_id == {login[s][key]: nbgrader_totals[s] for s in students}
    assert any(total > 0 for total in nbgrader_totals.values()) and nbgrader_totals[NOBODY] == 0
    # The hand-graded point and a half reaches `nbgrader export` next to the autograded points.
    every_test = sum(e["max_points"] for e in summary_of(graded_class)["exercises"] if e["graded"])
    assert nbgrader_totals["reference"] == pytest.approx(every_test + 1.5)


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.browser
def test_the_report_opens_in_chromium_without_errors(graded_class: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does it)")
    from playwright.sync_api import sync_playwright

    report = graded_class / "reports" / gr.ASSIGNMENT
    example = sorted((report / "examples").glob("*.html"))[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for path in (report / "index.html", example):
                page = browser.new_page()
                errors: list[str] = []
                remote: list[str] = []
                page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))  # noqa: B023
                page.on("pageerror", lambda error: errors.append(str(error)))  # noqa: B023
                page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))  # noqa: B023
                page.on("request", lambda req: not req.url.startswith("file:") and remote.append(req.url))  # noqa: B023
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                assert errors == [] and remote == [], (path.name, errors, remote)
                if path.name == "index.html":
                    assert page.locator("h1").inner_text() == "Class report: ganlab"
                    images = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
                    summary = summary_of(graded_class)
                    plotted = [x for x in summary["notebooks"] + summary["exercises"] if x["graded"]]
                    assert len(images) == len(plotted) >= 8 and all(width > 0 for width in images)
                    assert page.locator("#similar details").count() == len(summary["similar_pairs"])
                else:
                    assert page.locator("pre").count() >= 2  # the message and the answer
                page.close()
        finally:
            browser.close()


@pytest.mark.slow
def test_the_speed_benchmark_runs_on_a_small_class(tmp_path: Path) -> None:
    """bench/report_speed.py builds its synthetic class and times the phases (8 students here)."""
    done = run_python(str(ROOT / "bench" / "report_speed.py"), "--students", "8", "--keep", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("command: python bench/report_speed.py --students 8")
    assert "similarity, 1 process" in done.stdout and "8 students" in done.stdout
    summary = json.loads((tmp_path / "c" / "reports" / "ganlab" / "summary.json").read_text())
    assert summary["students"] == 8
    # The bench plants two pairs of students who share every answer: the report finds them.
    flagged = {(p["a"], p["b"]) for p in summary["similar_pairs"]}
    assert {("student_000", "student_001"), ("student_002", "student_003")} <= flagged
