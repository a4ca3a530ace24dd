"""The built course website, served on 127.0.0.1 and opened in Debian's Chromium: session fixtures
(registered in ``tests/conftest.py``, so that the site is built once for every browser test module)
and :class:`Watched`.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def site() -> Path:
    """The whole site, built from the repository as the README's main command builds it."""
    env = dict(os.environ)
    # The training page's run is judged by test_short_run (the same recipe, trained once) and its
    # budget path by test_demo_budget: here two seconds of it show the page builds and renders.
    env.setdefault("GANLAB_DEMO_BUDGET_S", "2")
    if (REPO / "book" / "node_modules").is_dir():
        env.setdefault("BOOK_SKIP_NPM", "1")  # the lock file's packages are already installed
    done = subprocess.run(["bash", "book/build.sh"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"book/build.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (SITE / "index.html").is_file()
    return SITE


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """The built site on http://127.0.0.1:<port>/."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless (Playwright's own browser download does not work offline)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Watched:
    """A page with its console errors and its requests to other origins recorded."""

    def __init__(self, browser: object, server: str, **context: object) -> None:
        """A page in a fresh browser context (closed with it); ``context``: Playwright's options for
        that context (``service_workers="block"``: a browser that refuses service workers)."""
        self.page = browser.new_page(viewport={"width": 1280, "height": 900}, **context)  # type: ignore[attr-defined]
        self.server = server
        self.errors: list[str] = []
        self.foreign: list[str] = []
        origin = urlparse(server).netloc
        # A console error names no resource by itself ("Failed to load resource: ... 404"): add its URL.
        self.page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(f"{msg.text} ({msg.location.get('url', '?')})"),
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} for {r.url}"))

        def request(req: object) -> None:
            url = urlparse(req.url)  # type: ignore[attr-defined]
            if url.scheme in ("http", "https", "ws", "wss") and url.netloc != origin:
                self.foreign.append(req.url)  # type: ignore[attr-defined]

        self.page.on("request", request)

    def picture(self, selector: str) -> str:
        """The canvas as a PNG data URL: lossless, so equal exactly when the pixels are, and far smaller."""
        return self.page.evaluate("sel => document.querySelector(sel).toDataURL()", selector)

    def open(self, url: str, timeout_s: float = 60) -> None:
        """Go to ``url`` and wait for the page that stays: the training page registers its service
        worker (book/train_live_src/isolation.js) and reloads itself once on a first visit."""
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.goto(url, wait_until="networkidle")
        settled = "!window.ganlabIsolation || window.ganlabIsolation.settled"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                # Polled across the reload. A new page that has not run the script yet passes too,
                # so the question is asked again once that page has loaded.
                self.page.wait_for_function(settled, timeout=timeout_s * 1000)
                self.page.wait_for_load_state("networkidle")
                if self.page.evaluate(settled):
                    return
            except PlaywrightTimeout:
                raise
            except PlaywrightError:  # the page went away with a reload under way: ask the next one
                pass
        raise TimeoutError(f"{url} did not settle in {timeout_s} s")
