"""The student pages of the site show only what a student's install runs.

A student installs the student package ``ganlab`` (``pip install ".[course]"``), never the
instructor's reference package. So no student page may name the reference package in code or
in a command (code blocks, inline code, included files, executed cells' source and output),
and every repository path such code names (``configs/fashionmnist.yaml``,
``slurm/student_train.sbatch``...) must exist in the checkout.

The student pages are the pages of ``_toc.yml`` except the instructors' pages, which
:data:`INSTRUCTOR_PAGES` names. Two tiers check the same rules: the fast tests read the page
sources (the markdown, the files they include, the source notebooks of the exercise pages,
with their solution and hidden-test blocks removed as nbgrader removes them); the slow one
reads the built site, where executed cells' outputs are too.
"""

from __future__ import annotations

import fnmatch
import html.parser
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from .helpers import ROOT

REFERENCE = "ganlab_solution"

# The instructors' pages, in one place: they show the reference package's commands and code.
INSTRUCTOR_PAGES = {
    "book/instructor": "the instructor guide",
    "book/scaling_up": "the instructors' 128x128 track, run with the reference trainer",
    "book/demos/training": "trains with the reference networks at build time (the site holds no student answers)",
}
# Where the exercise pages (release notebooks copied in at build time) come from.
RELEASE_PAGES = "book/exercises/_release/*"
RELEASE_SOURCES = ROOT / "notebooks" / "ganlab"
NBGRADER_BLOCKS = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1\n?", re.DOTALL)


def toc_entries() -> list[str]:
    """Every ``file`` and ``glob`` of ``_toc.yml``, root first, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            entries.extend(node[key] for key in ("file", "glob") if key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    return entries


def student_entries() -> list[str]:
    return [entry for entry in toc_entries() if entry not in INSTRUCTOR_PAGES]


def repository_folders() -> set[str]:
    """The checkout's top-level folders that hold tracked files: the first part of a repository path."""
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return {name.split("/", 1)[0] for name in listed.split() if "/" in name}
    except (OSError, subprocess.CalledProcessError):  # an export without git: the visible folders
        return {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def repository_paths(code: str, folders: set[str]) -> set[str]:
    """The paths inside the repository that ``code`` names, e.g. ``configs/fashionmnist.yaml``."""
    names = "|".join(re.escape(folder) for folder in sorted(folders))
    found = re.findall(rf"(?<![\w/.~$-])(?:\./)?((?:{names})/[\w.\-/]*[\w/])", code)
    return {path.rstrip("/") for path in found}


def problems_in(where: str, code: str, folders: set[str]) -> list[str]:
    """What is wrong with the code a student page shows: the reference package, paths that do not exist."""
    problems = []
    for line in code.splitlines():
        if REFERENCE in line:
            problems.append(f"{where}: names the reference package: {line.strip()[:160]}")
    problems += [
        f"{where}: names {path}, which is not in the repository"
        for path in sorted(repository_paths(code, folders))
        if not (ROOT / path).exists()
    ]
    return problems


# -- the sources ---------------------------------------------------------------------------------


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(\{[\w-]+\})?\s*(.*)$")
INLINE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# Directives whose body is more markdown, not code.
MARKDOWN_BODIES = {"{note}", "{admonition}", "{tip}", "{warning}", "{important}", "{dropdown}", "{margin}"}


def _included(page: Path, argument: str, options: dict[str, str]) -> tuple[Path, str]:
    """What a ``literalinclude`` shows: the file, and its selected text as Sphinx selects it."""
    from sphinx.directives.code import LiteralIncludeReader

    path = (page.parent / argument).resolve()
    if not path.is_file():
        return path, ""
    selection = {key: value for key, value in options.items() if key in ("pyobject", "start-at", "end-at", "lines")}
    try:
        text, _ = LiteralIncludeReader(str(path), selection, SimpleNamespace(source_encoding="utf-8")).read()
    except ValueError as exc:  # what Sphinx says when the selection finds nothing
        raise AssertionError(f"{page.relative_to(ROOT)}: literalinclude {argument}: {exc}") from None
    return path, text


def markdown_code(page: Path, text: str) -> Iterator[tuple[str, str]]:
    """(what, code) for each piece of code a MyST page shows: fences, code cells, includes, inline code.

    ``{only} solutions`` blocks are left out: they appear only in the build for after the deadline.
    """
    lines = text.splitlines()
    paragraph: list[str] = []  # inline code may run over a line break, not over a paragraph's end
    i = 0
    while i <= len(lines):
        opened = FENCE.match(lines[i]) if i < len(lines) else None
        if i < len(lines) and not opened and lines[i].strip():
            paragraph.append(lines[i])
            i += 1
            continue
        prose, first = "\n".join(paragraph), i - len(paragraph) + 1
        for match in INLINE.finditer(prose):
            line = first + prose[: match.start()].count("\n")
            yield f"{page.relative_to(ROOT)}:{line} inline", match[2].replace("\n", " ")
        paragraph = []
        if not opened:
            i += 1
            continue
        fence, directive, argument = opened[2], opened[3], opened[4].strip()
        end = i + 1
        while end < len(lines) and not re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", lines[end]):
            end += 1
        body = lines[i + 1 : end]
        where = f"{page.relative_to(ROOT)}:{i + 1}"
        options = {}
        while body and re.match(r"\s*:[\w-]+:", body[0]):
            key, _, value = body.pop(0).strip()[1:].partition(":")
            options[key] = value.strip().strip("\"'")
        if directive == "{only}":
            pass
        elif directive in MARKDOWN_BODIES:
            yield from markdown_code(page, "\n".join(body))
        elif directive == "{literalinclude}":
            path, included = _included(page, argument, options)
            if not path.is_file():
                yield where, f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} (literalinclude)"
            elif path.is_relative_to(ROOT / REFERENCE):
                yield where, f"{path.relative_to(ROOT)} (literalinclude)"
            yield f"{where} literalinclude {argument}", included
        elif directive in (None, "{code-cell}", "{code-block}", "{code}"):
            yield where, "\n".join(body)
        i = end + 1


def notebook_code(notebook: Path) -> Iterator[tuple[str, str]]:
    """(what, code) for each piece of code the student version of a source notebook shows."""
    cells = json.loads(notebook.read_text())["cells"]
    for number, cell in enumerate(cells, 1):
        source = NBGRADER_BLOCKS.sub("", "".join(cell["source"]))
        if cell["cell_type"] == "code":
            yield f"{notebook.relative_to(ROOT)} cell {number}", source
        elif cell["cell_type"] == "markdown":
            for what, code in markdown_code(notebook, source):
                yield f"{what} (markdown cell {number})", code


def student_sources() -> list[Path]:
    sources = []
    for entry in student_entries():
        if entry == RELEASE_PAGES:
            sources += sorted(RELEASE_SOURCES.glob("*.ipynb"))
        elif any(char in entry for char in "*?["):
            raise AssertionError(f"_toc.yml globs {entry}: tell {__name__} where its pages come from")
        else:
            sources.append(ROOT / f"{entry}.md")
    return sources


def test_every_instructor_page_is_in_the_toc() -> None:
    entries = toc_entries()
    assert set(INSTRUCTOR_PAGES) <= set(entries), sorted(set(INSTRUCTOR_PAGES) - set(entries))
    assert len(student_entries()) >= 15, student_entries()


def test_student_page_sources_show_no_reference_and_only_real_paths() -> None:
    folders = repository_folders()
    assert {"ganlab", "configs", "slurm"} <= folders, folders
    sources = student_sources()
    assert all(source.is_file() for source in sources), [s for s in sources if not s.is_file()]
    assert any(source.suffix == ".ipynb" for source in sources), "no exercise notebook among the student pages"
    problems = []
    for source in sources:
        pieces = notebook_code(source) if source.suffix == ".ipynb" else markdown_code(source, source.read_text())
        for where, code in pieces:
            problems += problems_in(where, code, folders)
    assert not problems, "a student page shows what a student's install cannot run:\n" + "\n".join(problems)


def test_the_source_scan_sees_what_it_must() -> None:
    """The scan finds the reference in each kind of code a page can hold, and a path that does not exist."""
    page = ROOT / "book" / "probe.md"
    text = "\n".join(
        [
            "Run `python -m ganlab_solution.models` first.",
            "```bash",
            "sbatch slurm/no_such_script.sbatch",
            "```",
            "```{code-cell} ipython3",
            ":tags: [remove-input]",
            "from ganlab_solution.models import Discriminator",
            "```",
            "```{literalinclude} ../ganlab_solution/models.py",
            ":pyobject: Discriminator",
            "```",
            "````{only} solutions",
            "```{literalinclude} ../ganlab_solution/models.py",
            "```",
            "````",
            "```{literalinclude} ../configs/fashionmnist.yaml",
            ':start-at: "data:"',
            "```",
            "",
            "Inline code may run over a line break: `python -m",
            "ganlab_solution train`.",
        ]
    )
    problems = [p for where, code in markdown_code(page, text) for p in problems_in(where, code, repository_folders())]
    assert any(":1 inline: names the reference" in p for p in problems), problems
    assert any("slurm/no_such_script.sbatch, which is not in the repository" in p for p in problems), problems
    assert any(":5: names the reference" in p for p in problems), problems
    assert any(":9: names the reference" in p and "(literalinclude)" in p for p in problems), problems
    assert not any(":13" in p or ":16" in p for p in problems), problems
    assert any(":20 inline: names the reference package: python -m ganlab_solution train" in p for p in problems)
    assert repository_paths("cat configs/cpu_short.yaml logs/run/x.png /usr/share/x RUN_DIR/a.onnx", {"configs"}) == {
        "configs/cpu_short.yaml"
    }


def _rows(page: Path) -> list[tuple[tuple[int, ...] | None, int]]:
    """(output shape, parameters) of each row of the page's shape table."""
    rows = []
    for line in page.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"[\d,]+", cells[2]):
            shape = re.search(r"\(([\d, ]+)\)", cells[1])
            rows.append((tuple(int(n) for n in shape[1].split(",")) if shape else None, int(cells[2].replace(",", ""))))
    return rows


def test_the_shape_tables_of_chapters_2_and_3_are_the_reference_networks() -> None:
    """The chapters show the lab's shapes as tables (no page imports the reference): they must stay true."""
    import torch

    from ganlab.harness import count_parameters as count
    from ganlab_solution.models import Discriminator, Generator

    critic = Discriminator((1, 28, 28), dropout=0.5, base_c=32, dnoise=0.1, num_classes=2).eval()
    x = torch.zeros(64, 1, 28, 28)
    expected = [(tuple(x.shape), 0)]
    for block in critic.blocks:
        x = block(x)
        expected.append((tuple(x.shape), count(block)))
    x = x.flatten(1)
    expected += [(tuple(x.shape), 0), (tuple(critic.head(x).shape), count(critic.head)), (None, count(critic))]
    assert _rows(ROOT / "book" / "lab" / "02_critic.md") == expected

    generator = Generator((1, 28, 28), latent_size=100, base_c=256).eval()
    z = torch.zeros(64, 100)
    h = generator.project(z)
    expected = [(tuple(z.shape), 0), (tuple(h.shape), count(generator.project))]
    h = h.view(-1, *generator.start_shape)
    expected.append((tuple(h.shape), 0))
    for block in generator.blocks:
        h = block(h)
        expected.append((tuple(h.shape), count(block)))
    h = generator.to_image(h)
    expected += [(tuple(h.shape), count(generator.to_image)), (None, count(generator))]
    assert _rows(ROOT / "book" / "lab" / "03_generator.md") == expected


# -- the built site ------------------------------------------------------------------------------


class _Code(html.parser.HTMLParser):
    """The text of a page's ``<pre>`` and ``<code>`` elements: code blocks, inline code, cells and outputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.pieces: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("pre", "code"):
            if self.depth == 0:
                self.pieces.append("")
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("pre", "code") and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.pieces[-1] += data


def built_student_pages(site: Path) -> list[Path]:
    pages = []
    for entry in student_entries():
        if any(char in entry for char in "*?["):
            pages += sorted(
                p for p in site.rglob("*.html") if fnmatch.fnmatch(str(p.relative_to(site).with_suffix("")), entry)
            )
        else:
            pages.append(site / f"{entry}.html")
    return pages


@pytest.mark.slow
@pytest.mark.browser
def test_built_student_pages_show_no_reference_and_only_real_paths(site: Path) -> None:
    pages = built_student_pages(site)
    assert all(page.is_file() for page in pages), [str(p) for p in pages if not p.is_file()]
    assert any("_release" in page.parts for page in pages), "no exercise page among the student pages"
    folders = repository_folders()
    problems = []
    for page in pages:
        parser = _Code()
        parser.feed(page.read_text(errors="replace"))
        for code in parser.pieces:
            problems += problems_in(str(page.relative_to(site)), code, folders)
    assert not problems, "a built student page shows what a student's install cannot run:\n" + "\n".join(
        dict.fromkeys(problems)
    )
