"""What students receive: each test cell's score and the check's message, never a hidden test."""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from safe_execute import error_output  # next to this file
from traitlets import Bool

BEGIN = re.compile(r"^\s*### BEGIN HIDDEN TESTS\s*$")
END = re.compile(r"^\s*### END HIDDEN TESTS\s*$")
PLACEHOLDER = "# (hidden tests ran here: their results are in the message below)"


def hide_blocks(source: str) -> str:
    """``source`` with every hidden-test block replaced by one comment line (an unclosed block runs to the end)."""
    kept: list[str] = []
    inside = False
    for line in source.splitlines():
        if not inside and BEGIN.match(line):
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(indent + PLACEHOLDER)
        elif inside:
            inside = not END.match(line)
        else:
            kept.append(line)
    return "\n".join(kept)


class HideHiddenTests(Preprocessor):
    """Remove hidden-test source and tracebacks (which would quote the hidden test that failed) from the notebooks
    ``generate_feedback`` renders."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled.").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        """Hide the blocks of one cell and shorten its error outputs."""
        if "HIDDEN TESTS" in cell.source:
            cell.source = hide_blocks(cell.source)
        if cell.cell_type == "code":
            cell.outputs = [error_output(o.ename, o.evalue) if o.output_type == "error" else o for o in cell.outputs]
        return cell, resources
