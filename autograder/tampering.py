"""Answer cells that reach into the grading machinery: the lines the class report lists under "Look at these".

An answer to this lab never needs the checks, the interpreter's internals, files or other processes, so each
line that uses them is a reason to look, not a verdict: no points change. The scan reads the code (``ast``),
it does not run it; a cell that does not parse is not scanned.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

_STACK = "walks the call stack"
# A module or name an answer uses, imports or calls ("gc" also matches gc.get_objects).
NAMES = {
    "gc": "searches the garbage collector's objects",
    "ctypes": "uses ctypes (raw memory)",
    "sys.modules": "reads sys.modules",
    **dict.fromkeys(("sys._getframe", "inspect.currentframe", "inspect.stack"), _STACK),
    **dict.fromkeys(("inspect.getsource", "linecache"), "reads source code"),
    **dict.fromkeys(("importlib", "__import__"), "imports by name"),
    "open": "opens a file",
    **dict.fromkeys(("exec", "eval", "compile"), "runs code built at run time"),
    **dict.fromkeys(("signal", "os.kill"), "sends signals"),
    **dict.fromkeys(("subprocess", "os.system", "os.fork"), "starts other programs"),
}
# An attribute (or bare name) that leads into frames, functions' internals, the class tree or files.
ATTRIBUTES = {
    **dict.fromkeys(("f_back", "f_globals", "f_locals", "tb_frame"), _STACK),
    **dict.fromkeys(
        ("__code__", "__globals__", "__defaults__", "__kwdefaults__", "__closure__"),
        "reaches into a function's internals",
    ),
    "__subclasses__": "walks the class tree",
    "__file__": "locates package files",
    **dict.fromkeys(("read_text", "read_bytes"), "reads files"),
}
# Objects whose attributes an answer never rebinds (assignment, del, setattr, delattr).
PATCHED = {
    "labcheck": "rebinds a check function",
    **dict.fromkeys(("builtins", "__builtins__"), "rebinds a builtin"),
    **dict.fromkeys(("torch", "nn", "F"), "patches torch"),
}
# Words in a string, an import or a name: answer cells never need the reference or the checks.
WORDS = {
    "ganlab_solution": "reaches for the reference package",
    "labcheck": "reaches for the checks",
    "site-packages": "reads installed package files",
}


@dataclass(frozen=True)
class Finding:
    """One line of an answer cell that reaches into the grading machinery."""

    line: int  # 1-based, within the cell
    code: str
    why: str


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name (``""`` for anything else: a call's result, a subscript)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _named(name: str) -> str | None:
    found = [why for key, why in NAMES.items() if name == key or name.startswith(key + ".")]
    found += [why for word, why in WORDS.items() if word in name.split(".")]
    return found[0] if found else None


def _rebound(target: ast.AST) -> str | None:
    """Why assigning to (or deleting) ``target`` rebinds part of the grading machinery, if it does."""
    if isinstance(target, ast.Attribute) and target.attr == "__class__":
        return "changes an object's class"
    value = target.value if isinstance(target, ast.Subscript) else None
    if isinstance(value, ast.Call) and dotted(value.func) == "globals":
        return "rewrites the notebook's globals"
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        return PATCHED.get(dotted(target.value).split(".")[0])
    return None


def _why(node: ast.AST) -> str | None:
    """Why ``node`` reaches into the grading machinery, or None."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        flat = [e for t in targets for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
        return next(filter(None, map(_rebound, flat)), None)
    if isinstance(node, ast.Call) and dotted(node.func) in ("setattr", "delattr") and node.args:
        return PATCHED.get(dotted(node.args[0]).split(".")[0])
    if isinstance(node, ast.Import):
        return next(filter(None, (_named(alias.name) for alias in node.names)), None)
    if isinstance(node, ast.ImportFrom):
        return next(filter(None, (_named(f"{node.module or ''}.{a.name}".lstrip(".")) for a in node.names)), None)
    if isinstance(node, ast.Call):
        return _named(dotted(node.func))
    if isinstance(node, ast.Attribute):
        return ATTRIBUTES.get(node.attr) or _named(dotted(node))
    if isinstance(node, ast.Name):
        return ATTRIBUTES.get(node.id) or WORDS.get(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return next((why for word, why in WORDS.items() if word in node.value), None)
    return None


def scan(source: str) -> list[Finding]:
    """Each line of ``source`` (one answer cell) that reaches into the grading machinery, with the first reason."""
    lines = re.split(r"\r\n|\r|\n", source)  # as the parser counts lines (str.splitlines counts more)
    # IPython magics and shell lines are not Python: blanked, so line numbers stay the cell's.
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    try:
        with warnings.catch_warnings():  # a student's odd escape sequence is not the report's business
            warnings.simplefilter("ignore")
            tree = ast.parse(python)
    except (SyntaxError, ValueError, RecursionError):
        return []  # its own error costs the exercise already; nothing here runs
    found: dict[int, str] = {}
    for node in ast.walk(tree):  # outer nodes first: an assignment's reason before its names'
        why = _why(node)
        if why and hasattr(node, "lineno"):
            found.setdefault(node.lineno, why)
    return [Finding(number, lines[number - 1].strip(), why) for number, why in sorted(found.items())]


def answer_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade id -> source of each answer cell of a notebook (nbgrader's ``solution: true`` code cells)."""
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
            cells[meta["grade_id"]] = cell.source
    return cells


def flagged_cells(path: Path) -> int:
    """How many answer cells of the notebook at ``path`` reach into the grading machinery."""
    return sum(bool(scan(source)) for source in answer_cells(nbformat.read(path, as_version=4)).values())
