"""Small Sphinx fixes for the course website (loaded through ``_config.yml``'s local_extensions).

Jupyter Book v1 fires sphinx-thebe's ``env-before-read-docs`` hook more than once, so every
page declared ``const THEBE_JS_URL`` twice and the browser logged a SyntaxError. The site's
browser test forbids console errors: drop repeated inline scripts and script files.

The public site shows no reference answer. ``GANLAB_BOOK_SOLUTIONS=1`` (the switch for after the
deadline, ``GANLAB_BOOK_SOLUTIONS=1 make book``) sets the Sphinx tag ``solutions``: the chapters'
``{only} solutions`` blocks then show the reference code, and the exercise pages show the answers.
"""

from __future__ import annotations

import os
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


def setup(app: Any) -> dict[str, Any]:
    """Register the page-context hook, and the ``solutions`` tag when the switch is on."""
    if os.environ.get("GANLAB_BOOK_SOLUTIONS") == "1":
        app.tags.add("solutions")
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
