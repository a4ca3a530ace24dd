"""The site's accessibility pass over the theme's navigation (book/_ext/ganlab_site.py), on its markup.

The axe-core audit of every built page lives in test_book.py (a browser and a site build);
these check the rewriting itself, quickly, on the markup pydata-sphinx-theme 0.17 writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
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


def test_each_collapsible_summary_is_named_after_its_chapter() -> None:
    fixed = ganlab_site.accessible(NAV + NAV.replace("Notebooks &amp; grading", "Demos"))
    assert "<summary>" not in fixed
    assert '<summary aria-label="Sections of Notebooks &amp; grading">' in fixed
    assert '<summary aria-label="Sections of Demos">' in fixed


def test_the_current_chapters_summary_is_named_too() -> None:
    current = NAV.replace(
        'class="reference internal" href="exercises/index.html"', 'class="current reference internal" href="#"'
    )
    fixed = ganlab_site.accessible(current.replace("<details>", '<details open="open">'))
    assert '<details open="open"><summary aria-label="Sections of Notebooks &amp; grading">' in fixed


def test_labelled_buttons_hide_what_their_label_does_not_say() -> None:
    fixed = ganlab_site.accessible(SEARCH + MODE)
    assert '<span class="search-button__kbd-shortcut" aria-hidden="true">' in fixed
    assert fixed.count('aria-hidden="true"></i>') == 2 and 'title="Light"' not in fixed
    assert 'aria-label="Search"' in fixed and 'aria-label="Color mode"' in fixed  # the labels stay


def test_a_page_without_the_theme_markup_is_left_alone() -> None:
    page = "<html><body><details><summary>Named already</summary></details></body></html>"
    assert ganlab_site.accessible(page) == page
