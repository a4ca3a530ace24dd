"""What students receive: the feedback HTML of a whole grading round shows every failed check's
message and no line of any hidden test (autograder/feedback.py, run by plain ``nbgrader
generate_feedback`` through autograder/nbgrader_config.py)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import feedback
import nbformat
import pytest

from .helpers import LAB_NOTEBOOKS


def hidden_lines(path: Path) -> set[str]:
    """Every substantial line inside a hidden-test block of a source notebook that is not also visible elsewhere."""
    hidden, visible = set(), set()
    for cell in nbformat.read(path, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if feedback.BEGIN.match(line):
                inside = True
            elif feedback.END.match(line):
                inside = False
            else:
                (hidden if inside else visible).add(line.strip())
    shown = "\n".join(visible)  # a short hidden line can also be part of a visible one
    return {line for line in hidden - visible if len(line) >= 12 and line not in shown}


def visible_text(page: Path) -> str:
    """The text a student reads in a feedback page (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_hide_blocks_keeps_everything_else() -> None:
    source = "a = 1\n### BEGIN HIDDEN TESTS\nsecret(1)\nsecret(2)\n### END HIDDEN TESTS\nb = 2\n    ### BEGIN HIDDEN TESTS\n    x"
    shown = feedback.hide_blocks(source)
    assert "secret" not in shown and "    x" not in shown
    assert shown.splitlines()[0] == "a = 1" and "b = 2" in shown and shown.count(feedback.PLACEHOLDER) == 2


@pytest.mark.slow
@pytest.mark.grading
def test_feedback_shows_messages_and_never_a_hidden_test(grading_round: tuple[Path, dict]) -> None:
    workdir, results = grading_round
    secrets = {path.stem: hidden_lines(path) for path in LAB_NOTEBOOKS}
    assert all(secrets.values()), "a notebook without hidden tests: the test would prove nothing"
    for (student, notebook), result in results.items():
        page = workdir / "feedback" / student / "ganlab" / f"{notebook}.html"
        assert page.exists(), f"no feedback for {student}/{notebook}"
        text = visible_text(page)
        leaked = sorted(line for line in secrets[notebook] if line in text)
        assert not leaked, f"{student}/{notebook} feedback shows hidden-test lines: {leaked[:3]}"
        for test, (ename, message) in result.errors.items():
            if ename == "CheckFailed" and test in result.scores:
                # Limited outputs cut very long messages: their first 150 characters must be there.
                assert message.strip()[:150] in text, f"{student}/{notebook}/{test}: {message[:150]!r} not shown"
