"""The student pages of the site show only what a student's install (``pip install ".[course]"``) runs: no page of
``_toc.yml`` but :data:`INSTRUCTOR_PAGES` names the reference package in code or in a command, and every repository
path such code names must exist. The fast tests read the page sources (markdown, included files, the exercise pages'
source notebooks without solution and hidden-test blocks); the slow one reads the built site, outputs included.
"""

from __future__ import annotations

import fnmatch
import functools
import html.parser
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT

REFERENCE = "ganlab_solution"
INSTRUCTOR_PAGES = {
    "book/instructor": "the instructor guide",
    "book/scaling_up": "the instructors' 128x128 track, run with the reference trainer",
    "book/demos/training": "trains with the reference networks at build time (the site holds no student answers)",
}
RELEASE_PAGES = "book/exercises/_release/*"  # the release notebooks, copied in at build time
NBGRADER_BLOCKS = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1\n?", re.DOTALL)
# Code in a page's source: fenced blocks (and code cells) whole, inline code; {only} blocks are the
# after-the-deadline build's. A fence is closed by the same run of backticks.
FENCED = re.compile(r"^(`{3,})(.*?)\n(.*?)^\1\s*$", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"(`+)([^`]+?)\1")


def student_entries() -> list[str]:
    """Every ``file`` and ``glob`` of ``_toc.yml`` but the instructors' pages, root first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            entries.extend(node[key] for key in ("file", "glob") if key in node)
            node = list(node.values())
        if isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    assert set(INSTRUCTOR_PAGES) <= set(entries), sorted(set(INSTRUCTOR_PAGES) - set(entries))
    return [entry for entry in entries if entry not in INSTRUCTOR_PAGES]


@functools.cache
def _path_pattern() -> re.Pattern[str]:
    """Repository paths: names that start with one of the checkout's top-level folders."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = "|".join(sorted({re.escape(name.split("/", 1)[0]) for name in files.split() if "/" in name}))
    return re.compile(rf"(?<![\w/.~$-])(?:\./)?((?:{names})/[\w.\-/]*[\w/])")


def problems_in(where: str, code: str) -> list[str]:
    """What is wrong with code a student page shows: the reference package, repository paths that do not exist."""
    paths = _path_pattern().findall(code)
    problems = [
        f"{where}: names the reference package: {line.strip()[:160]}" for line in code.splitlines() if REFERENCE in line
    ]
    return problems + [
        f"{where}: names {p}, which is not in the repository" for p in sorted(set(paths)) if not (ROOT / p).exists()
    ]


def source_code(where: str, text: str, folder: Path) -> list[str]:
    """The problems of one page source (markdown): its fenced blocks, included files and inline code."""
    problems = []
    for _fence, header, body in FENCED.findall(text):
        if header.startswith("{only}"):
            continue
        if header.startswith("{literalinclude}"):
            included = (folder / header.split(None, 1)[1].strip()).resolve()
            body = f"{included.relative_to(ROOT)}\n" + (included.read_text() if included.is_file() else "")
        problems += problems_in(where, body)
    prose = FENCED.sub("", text)
    return problems + problems_in(
        f"{where} (inline)", "\n".join(m[1] for m in INLINE.findall(prose.replace("\n", " ")))
    )


def test_student_page_sources_show_no_reference_and_only_real_paths() -> None:
    problems, pages = [], 0
    for entry in student_entries():
        if entry == RELEASE_PAGES:
            for notebook in sorted((ROOT / "notebooks" / "ganlab").glob("*.ipynb")):
                for number, cell in enumerate(json.loads(notebook.read_text())["cells"], 1):
                    text = NBGRADER_BLOCKS.sub("", "".join(cell["source"]))
                    where = f"{notebook.relative_to(ROOT)} cell {number}"
                    code = cell["cell_type"] == "code"
                    problems += problems_in(where, text) if code else source_code(where, text, notebook.parent)
                pages += 1
        else:
            page = ROOT / f"{entry}.md"
            problems += source_code(str(page.relative_to(ROOT)), page.read_text(), page.parent)
            pages += 1
    assert pages >= 20, pages
    assert not problems, "a student page shows what a student's install cannot run:\n" + "\n".join(problems)


def test_the_source_scan_sees_what_it_must() -> None:
    """The scan finds the reference in each kind of code a page can hold, and a path that does not exist."""
    text = (
        "Run `python -m ganlab_solution.models` first.\n```bash\nsbatch slurm/no_such_script.sbatch\n```\n"
        "```{code-cell} ipython3\n:tags: [remove-input]\nfrom ganlab_solution.models import Discriminator\n```\n"
        "```{literalinclude} ../ganlab_solution/models.py\n:pyobject: Discriminator\n```\n"
        "````{only} solutions\n```{literalinclude} ../ganlab_solution/losses.py\n```\n````\n"
        "```{literalinclude} ../configs/fashionmnist.yaml\n```\nOver a line break: `python -m\nganlab_solution train`.\n"
    )
    problems = source_code("probe", text, ROOT / "book")
    assert sum("names the reference package" in p for p in problems) >= 4, problems
    assert any("slurm/no_such_script.sbatch, which is not in the repository" in p for p in problems), problems
    assert not any("losses.py" in p or "fashionmnist.yaml" in p for p in problems), problems
    assert any("(inline): names the reference package: python -m ganlab_solution train" in p for p in problems)


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


class _Code(html.parser.HTMLParser):
    """The text of a page's ``<pre>`` and ``<code>`` elements: code blocks, inline code, cells and outputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth, self.pieces = 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("pre", "code"):
            self.pieces += [""] if self.depth == 0 else []
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in ("pre", "code") and self.depth > 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.pieces[-1] += data


@pytest.mark.slow
@pytest.mark.browser
def test_built_student_pages_show_no_reference_and_only_real_paths(site: Path) -> None:
    pages = []
    for entry in student_entries():
        found = [p for p in site.rglob("*.html") if fnmatch.fnmatch(str(p.relative_to(site).with_suffix("")), entry)]
        assert found, f"{entry} of _toc.yml was not built"
        pages += found
    assert any("_release" in page.parts for page in pages), "no exercise page among the student pages"
    problems = []
    for page in pages:
        parser = _Code()
        parser.feed(page.read_text(errors="replace"))
        problems += [p for code in parser.pieces for p in problems_in(str(page.relative_to(site)), code)]
    assert not problems, "a built student page shows what a student's install cannot run:\n" + "\n".join(
        dict.fromkeys(problems)
    )
