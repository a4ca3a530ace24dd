"""Small Sphinx fixes for the course website (loaded through ``_config.yml``'s local_extensions).

Jupyter Book v1 fires sphinx-thebe's ``env-before-read-docs`` hook more than once, so every
page declared ``const THEBE_JS_URL`` twice and the browser logged a SyntaxError. The site's
browser test forbids console errors: drop repeated inline scripts and script files.

The theme's navigation (pydata-sphinx-theme 0.17) also failed WCAG 2.1 on every page, as the
axe-core audit of the site's tests reports: the collapsible table of contents has a
``<summary>`` with no name (``summary-name``), and three buttons show text their label does
not contain (``label-content-name-mismatch``): the search fields show "Search Ctrl+K" under
the label "Search", the colour-mode button holds icons titled "Light", "Dark"... under the
label "Color mode". Once the pages are written, :func:`accessible` names each summary after
its chapter and hides the keyboard hint and the icons from assistive technology (they repeat
what the label says; sighted readers still see them).

``GANLAB_BOOK_SOLUTIONS=1`` (the site for after the deadline, book/build.sh) sets the Sphinx tag
``solutions``, which shows the chapters' ``{only} solutions`` blocks.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in scripts:
        # The copies differ only in filename None versus "" (inline scripts): compare what runs.
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


# A chapter's link (class "current reference internal" on its own page), then the theme's
# <details><summary> that folds its sections.
_SUMMARY = re.compile(
    r'(<a class="[^"]*reference internal[^"]*" href="[^"]*">(?P<title>[^<]*)</a><details[^>]*>)<summary>'
)
_KBD_HINT = re.compile(r'<span class="search-button__kbd-shortcut">')
_MODE_ICON = re.compile(r'<i class="theme-switch (?P<rest>[^"]*)"(?P<attrs>[^>]*?) title="[^"]*"></i>')


def accessible(page: str) -> str:
    """The page with named summaries, and no text in a labelled button that its label lacks."""
    page = _SUMMARY.sub(
        lambda m: f'{m.group(1)}<summary aria-label="Sections of {html.escape(html.unescape(m.group("title")))}">', page
    )
    page = _KBD_HINT.sub('<span class="search-button__kbd-shortcut" aria-hidden="true">', page)
    return _MODE_ICON.sub(r'<i class="theme-switch \g<rest>"\g<attrs> aria-hidden="true"></i>', page)


def _accessible_pages(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        fixed = accessible(text)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    """Register the page-context hook, the accessibility pass over the written pages, and the
    ``solutions`` tag when the switch is on."""
    if os.environ.get("GANLAB_BOOK_SOLUTIONS") == "1":
        app.tags.add("solutions")
    app.connect("html-page-context", _unique_scripts, priority=900)
    app.connect("build-finished", _accessible_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
