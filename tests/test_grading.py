"""The graded notebooks, and a real nbgrader round (``autograder/grading_round.py``, slow) where every
catalogued submission of ``tests/submissions/`` must lose exactly the points it breaks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grading_round
import nbformat
import pytest

from .helpers import LAB_NOTEBOOKS as NOTEBOOKS

CASES = grading_round.load_cases()
EXPECTED_STEMS = "01_data 02_critic 03_generator 04_gan_and_losses 05_training 06_generation 07_going_further".split()


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_the_lab_is_all_there() -> None:
    assert [path.stem for path in NOTEBOOKS] == EXPECTED_STEMS


def _top_level(source: str) -> list[ast.stmt]:
    """A cell's statements, its %magic and !shell lines left out."""
    return ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))).body


def _bound_names(source: str) -> set[str]:
    """Names a cell binds at module level (assignments, loops, with-as, imports, definitions)."""
    names: set[str] = set()
    for node in _top_level(source):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # what is inside stays local
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        else:
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_clean_nbgrader_source(path: Path) -> None:
    """Also: it never imports from the reference what it asks for, and its test cells bind only _private
    names (a student's own `loss`, `gan` or `images` must survive them)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    grade_ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"duplicate grade_id in {path.name}"
    tests = [c for c in nb.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    answers = [c for c in nb.cells if nbgrader_meta(c).get("solution")]
    assert tests and answers, f"{path.name} has no graded exercise"
    code_answers = [c.source for c in answers if c.cell_type == "code"]
    asked = {n.name for a in code_answers for n in _top_level(a) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} is stored with outputs"
        if cell.cell_type == "code" and not meta:
            for name in asked:
                assert not re.search(rf"from ganlab_solution[\w.]* import .*\b{name}\b", cell.source), (
                    f"{path.name} imports {name} from the reference package, but asks the student to write it"
                )
        if meta:
            assert meta["schema_version"] == 3
        if meta.get("grade") and meta.get("solution"):  # a question graded by hand ("Manually graded answer")
            assert cell.cell_type == "markdown" and meta["points"] > 0 and not meta["locked"]
            assert meta["grade_id"].startswith("q_"), f"{meta['grade_id']}: name hand-graded questions q_..."
        elif meta.get("grade"):
            assert meta["locked"] and meta["points"] > 0, (
                f"{meta['grade_id']}: a test cell must be locked and worth points"
            )
            assert meta["grade_id"].startswith("test_")
            assert "assert " not in cell.source, (
                f"{meta['grade_id']}: use labcheck's explained checks, not bare asserts"
            )
        if meta.get("grade") and cell.cell_type == "code":
            public = {name for name in _bound_names(cell.source) if not name.startswith("_")}
            assert public <= {"labcheck", "torch", "np"}, f"{meta['grade_id']} binds {sorted(public)}"
        if meta.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source


def test_catalogue_of_submissions() -> None:
    mistakes = [case for case in CASES if case.expect_lost]
    valid = [case for case in CASES if not case.expect_lost]
    assert len(mistakes) >= 30 and len(valid) >= 12
    stems = {path.stem for path in NOTEBOOKS}
    for case in CASES:
        assert case.notebook in stems, f"{case.name}: no notebook {case.notebook}"
        assert case.doc, f"{case.name}: say in a docstring what the student did"
    # A student is told what is wrong: each mistake names words its failure message must contain.
    for case in mistakes:
        assert case.expect_message, f"{case.name}: give EXPECT_MESSAGE, words the student's message must contain"
    # Every graded test cell of the lab is broken by at least one catalogued mistake.
    broken = {(case.notebook, test) for case in mistakes for test in case.expect_lost}
    for path in (p for p in NOTEBOOKS if p.stem in {"02_critic", "03_generator", "04_gan_and_losses"}):
        for meta in map(nbgrader_meta, nbformat.read(path, as_version=4).cells):
            if meta.get("grade") and not meta.get("solution"):
                assert (path.stem, meta["grade_id"]) in broken, f"no catalogued mistake for {meta['grade_id']}"


@pytest.fixture(scope="module")
def graded(grading_round: tuple[Path, dict]) -> dict:
    """One real nbgrader round: release, reference + blank + one student per case, autograde (conftest.py)."""
    return grading_round[1]


def result_of(graded: dict, student: str, notebook: str) -> grading_round.Result:
    if (student, notebook) not in graded:
        pytest.skip(f"GANLAB_ROUND_NOTEBOOKS left out {notebook}")
    return graded[(student, notebook)]


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.parametrize("stem", EXPECTED_STEMS)
def test_reference_gets_full_marks_and_untouched_release_zero(graded: dict, stem: str) -> None:
    result = result_of(graded, "reference", stem)
    assert result.scores, f"nothing graded in {stem}"
    lost = {test: (score, top) for test, (score, top) in result.scores.items() if score != top}
    assert not lost, f"the reference solution loses points in {stem}: {lost} {result.errors}"
    result = graded[("blank", stem)]
    assert result.scores and all(score == 0 for score, _ in result.scores.values()), result.scores
    # Every test cell ran and explained itself (no crash of the grading, no bare AssertionError).
    for test, (ename, message) in result.errors.items():
        assert ename in ("CheckFailed", "NotImplementedError"), f"{stem}/{test}: {ename}: {message}"


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_submission_loses_exactly_its_points(graded: dict, case: grading_round.Case) -> None:
    result = result_of(graded, grading_round.student_id(case.name), case.notebook)
    assert not grading_round.problems(case, result), "\n".join(grading_round.problems(case, result))


@pytest.mark.slow
@pytest.mark.grading
def test_export_agrees_with_the_gradebook_and_huge_outputs_are_cut(graded: dict) -> None:
    full = sum(
        top for (student, _), result in graded.items() if student == "reference" for _, top in result.scores.values()
    )
    exported = {student: result.exported for (student, _), result in graded.items()}
    assert exported["reference"] == full, "nbgrader export does not give the reference student full marks"
    assert exported["blank"] == 0
    result = result_of(graded, grading_round.student_id("01_huge_output"), "01_data")
    assert 0 < result.output_chars < 20_000, f"{result.output_chars} characters of printed output kept"


@pytest.mark.slow
@pytest.mark.grading
def test_release_has_no_solution_and_no_hidden_test(graded: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    del graded  # the round made the release notebooks
    release = sorted(Path(tmp_path_factory.getbasetemp()).glob("round[0-9]*/release/ganlab/*.ipynb"))
    assert [path.stem for path in release] == EXPECTED_STEMS
    for path in release:
        text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        assert "BEGIN HIDDEN TESTS" not in text and "own_work" not in text, f"{path.name} leaks a hidden test"
        assert "### BEGIN SOLUTION" not in text, f"{path.name} leaks a solution"
        for line in grading_round.secret_lines(path.stem):
            assert line not in text, f"{path.name} leaks {line!r}"
