"""The site's accessibility fixes (book/_ext/ganlab_site.py, book/_templates) on the markup pydata-sphinx-theme
0.17 writes, quickly; the axe-core audit of every built page is in test_book.py."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jinja2
import yaml

from .helpers import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import ganlab_site  # noqa: E402  (a Sphinx extension folder, not a package)

NAV = (
    '<li class="toctree-l1 has-children"><a class="reference internal" href="exercises/index.html">'
    'Notebooks &amp; grading</a><details><summary><span class="toctree-toggle" role="presentation">'
    '<i class="fa-solid fa-chevron-down"></i></span></summary><ul></ul></details></li>'
)
SEARCH = (
    '<button class="btn search-button-field" aria-label="Search"><span>Search</span>'
    '<span class="search-button__kbd-shortcut"><kbd>Ctrl</kbd>+<kbd>K</kbd></span></button>'
)
MODE = (
    '<button aria-label="Color mode"><i class="theme-switch fa-solid fa-sun fa-lg" data-mode="light" title="Light"></i>'
    '<i class="theme-switch fa-solid fa-moon fa-lg" data-mode="dark"  title="Dark"></i></button>'
)


def test_each_collapsible_summary_is_named_after_its_chapter_the_current_one_too() -> None:
    current = NAV.replace(
        'class="reference internal" href="exercises/index.html"', 'class="current reference internal" href="#"'
    ).replace("<details>", '<details open="open">')
    fixed = ganlab_site.accessible(NAV + NAV.replace("Notebooks &amp; grading", "Demos") + current)
    assert "<summary>" not in fixed
    assert '<summary aria-label="Sections of Notebooks &amp; grading">' in fixed
    assert '<summary aria-label="Sections of Demos">' in fixed
    assert '<details open="open"><summary aria-label="Sections of Notebooks &amp; grading">' in fixed


def test_labelled_buttons_hide_what_their_label_does_not_say() -> None:
    fixed = ganlab_site.accessible(SEARCH + MODE)
    assert '<span class="search-button__kbd-shortcut" aria-hidden="true">' in fixed
    assert fixed.count('aria-hidden="true"></i>') == 2 and 'title="Light"' not in fixed
    assert 'aria-label="Search"' in fixed and 'aria-label="Color mode"' in fixed  # the labels stay


def test_a_page_without_the_theme_markup_is_left_alone() -> None:
    page = "<html><body><details><summary>Named already</summary></details></body></html>"
    assert ganlab_site.accessible(page) == page


def _button(template: str) -> str:
    """The search button as Sphinx renders the template (``_`` translates), then as ganlab_site leaves it."""
    rendered = jinja2.Environment().from_string(template).render(_=lambda text: text)
    return ganlab_site.accessible(re.search(r"<button.*?</button>", rendered, re.DOTALL)[0])


def test_the_search_button_is_named_by_the_text_it_shows() -> None:
    """axe-core 4.11+ (label-content-name-mismatch, WCAG 2.5.3): the theme's button is labelled
    "Search" but reads "Search Ctrl+K"; the site's template drops the label, its text names it."""
    import pydata_sphinx_theme

    theme = Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme/components/search-button-field.html"
    ours = ROOT / "book" / "_templates" / "search-button-field.html"
    theirs, mine = _button(theme.read_text()), _button(ours.read_text())
    assert 'aria-label="Search"' in theirs  # what the override is for: gone from the theme, drop it
    assert "aria-label" not in mine and 'aria-keyshortcuts="Control+K Meta+K"' in mine
    # The theme's script and styles find the button and its hint by their classes: the same ones.
    classes = re.compile(r'class="([^"]*)"')
    assert classes.findall(mine) == classes.findall(theirs)
    # Its name, from its content: the visible text without what is hidden from assistive technology.
    shown = re.sub(r"<span[^>]*aria-hidden=\"true\">.*?</span>|<[^>]+>", "", mine)
    assert " ".join(shown.split()) == "Search"
    # Found before the theme's own copy.
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert "book/_templates" in config["templates_path"]
