"""Your answers to earlier notebooks, for the notebooks that build on them.

:func:`load_answers` runs an earlier notebook's set-up, answer and visible test cells (never its demos)
and binds the names asked for; one that is missing or fails its visible test is named in one line and
bound to a stand-in that says the same if used. When grading (``NBGRADER_EXECUTION``) earlier answers come
from the reference package, so a mistake in notebook 2 costs no points in notebook 5; where an instructor
handed that package out, it also stands in for missing or failing answers.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import linecache
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .exercises import answer_names, exercise_of

_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
_RED, _GREEN, _YELLOW, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0;33m", "\x1b[0m"


class AnswerMissing(Exception):
    """An earlier answer a notebook needs is missing or wrong; the message says where to fix it."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"{_RED}Missing answer{_RESET}: {self}"]


class MissingAnswer:
    """Stands in for an answer that could not be loaded; using it raises :class:`AnswerMissing`."""

    def __init__(self, name: str, problem: str) -> None:
        self._name, self._problem = name, problem

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AnswerMissing(f"{self._name} is needed here: {self._problem}")

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise AnswerMissing(f"{self._name} is needed here: {self._problem}")

    def __repr__(self) -> str:
        return f"<missing {self._name}: {self._problem}>"


def grading() -> bool:
    """True inside nbgrader's autograder (it sets ``NBGRADER_EXECUTION``)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def reference_answer(name: str) -> Any:
    """The reference package's answer ``name`` (raises ImportError where it is not installed)."""
    exercise = exercise_of(name)
    module = importlib.import_module(exercise.reference_module or "")
    return getattr(module, exercise.reference.split(":")[1])


class _Loaded(NamedTuple):
    """One earlier notebook, run: its namespace and what failed in it, by answer name."""

    namespace: dict[str, Any]
    problems: dict[str, str]


_CACHE: dict[tuple[str, float], _Loaded] = {}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text and type(error).__name__ != "CheckFailed" else (text or [""])[0]


def _cells(path: Path) -> list[dict[str, Any]]:
    try:
        notebook = json.loads(path.read_text())
        return [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError) as exc:
        raise AnswerMissing(f"{path.name} cannot be read as a notebook ({type(exc).__name__})") from None


def _source(cell: dict[str, Any]) -> str:
    source = "".join(cell.get("source", ""))
    source = _HIDDEN.sub("", source)  # the instructor's notebooks: only what students see runs
    # Line magics (%matplotlib inline) belong to IPython, not to the answers.
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _defines(source: str, names: dict[str, str]) -> list[str]:
    """The answer names a cell defines (``def name``, ``class name``, ``name = ...`` at the start of a line)."""
    return [n for n in names if re.search(rf"^(?:def|class)\s+{n}\b|^{n}\s*=", source, re.MULTILINE)]


def _run_notebook(path: Path) -> _Loaded:
    """Run the set-up, answer and visible test cells of ``path`` in a fresh namespace."""
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    namespace: dict[str, Any] = {"__name__": f"ganlab_answers_{path.stem}", "__builtins__": __builtins__}
    problems: dict[str, str] = {}
    defined_by: dict[str, list[str]] = {}  # answer cell id -> the answer names it defines
    for index, cell in enumerate(_cells(path)):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        cell_id = meta.get("grade_id", "")
        is_setup, is_answer, is_test = cell_id.startswith("setup"), bool(meta.get("solution")), bool(meta.get("grade"))
        if not (is_setup or is_answer or is_test):
            continue  # demos, plots and training: not needed for the answers
        filename = f"<{path.name}, cell {index + 1} ({cell_id})>"
        source = _source(cell)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, filename, "exec"), namespace)
            error = None
        except BaseException as exc:  # a student's cell may raise anything; KeyboardInterrupt still stops
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = exc
        if is_answer:
            defined_by[cell_id] = _defines(source, answer_names(path.stem))
            if error is not None:
                for name in defined_by[cell_id]:
                    problems.setdefault(name, _first_line(error))
        elif is_test and error is not None:
            for name in defined_by.get(cell_id.removeprefix("test_"), []):
                problems.setdefault(name, f"its visible test fails: {_first_line(error)}")
    _CACHE[key] = _Loaded(namespace, problems)
    return _CACHE[key]


def _problem_text(notebook: str, name: str, problem: str) -> str:
    number = answer_names(notebook)[name]
    if "NotImplementedError" in problem:
        problem = "not written yet (the cell still raises NotImplementedError)"
    return f"{name} of {notebook}.ipynb (exercise {number}): {problem}"


def _your_answers(path: Path, names: Sequence[str], where: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(``{name: object}`` that work, ``{name: problem}`` that do not) for ``names`` of the notebook ``path``;
    ``where`` says what to do when the notebook is not there."""
    if not path.is_file():
        return {}, {name: f"{path.name} is not in {path.parent}: {where}" for name in names}
    namespace, failed = _run_notebook(path)
    problems = {n: failed[n] for n in names if n in failed}
    for name in names:
        if name not in namespace and name not in problems:
            problems[name] = "not defined: run its cell in that notebook and save it"
    return {n: namespace[n] for n in names if n not in problems}, problems


def load_answers(namespace: dict[str, Any], notebook: str, *names: str, folder: str | Path | None = None) -> None:
    """Bind your answers ``names`` from ``notebook`` (e.g. ``"02_critic"``) in ``folder`` (default: the current one)
    into ``namespace``, printing one line saying where each came from, or which exercise to fix."""
    unknown = [n for n in names if n not in answer_names(notebook)]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not answers of {notebook} (see ganlab.exercises.EXERCISES)")
    if grading():
        namespace.update({name: reference_answer(name) for name in names})
        print(f"graded run: {', '.join(names)} from the reference, so only this notebook's own answers count")
        return
    path = Path(folder or Path.cwd()) / f"{notebook}.ipynb"
    found, problems = _your_answers(path, names, "keep the notebooks together in one folder")
    namespace.update(found)
    if found:
        print(f"{_GREEN}yours{_RESET}: {', '.join(found)} from {notebook}.ipynb")
    for name, problem in problems.items():
        text = _problem_text(notebook, name, problem)
        try:
            namespace[name] = reference_answer(name)
            print(f"{_YELLOW}reference{_RESET}: {text}; using the reference answer your instructor handed out")
        except ImportError:
            namespace[name] = MissingAnswer(name, f"fix {text}")
            print(f"{_RED}fix{_RESET} {text}")


def collect_answers(folder: str | Path, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Your answers ``names`` from the notebooks in ``folder``, as ``{name: object}`` (for ``python -m ganlab train``),
    never the reference's: :class:`AnswerMissing` names the first one missing or failing its visible test."""
    folder = Path(folder).resolve()
    found: dict[str, Any] = {}
    for notebook in dict.fromkeys(exercise_of(name).notebook for name in names):
        wanted = [name for name in names if exercise_of(name).notebook == notebook]
        with contextlib.chdir(folder):  # the notebook's own load_answers reads the earlier ones from there
            answers, problems = _your_answers(folder / f"{notebook}.ipynb", wanted, "pass the folder of your notebooks")
        if problems:  # the first one: fixing it may well fix the others
            name, problem = next(iter(problems.items()))
            raise AnswerMissing(f"{_problem_text(notebook, name, problem)}: fix it there, save, and run again")
        found.update(answers)
    return found
