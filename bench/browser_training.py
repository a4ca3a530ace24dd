"""Does the "Watch a GAN learn" page learn, and how fast, in headless Chromium on this machine?

Serves the built site (``bash book/build.sh``) to Debian's Chromium and, for each seed, trains the page
with its recipe, pausing at each checkpoint (seconds of training) to judge 512 samples of its fixed
latents with ``sample_quality`` and to read the page's own speed and estimate. Then each further backend
trains ``--backend-seconds`` for its speed (WebGL here is the software SwiftShader). ``--throttle RATE``
slows Chromium's CPU RATE times (a slower machine); ``--threads N`` asks the page for N WebAssembly
threads (1: the speed without isolation).

    python bench/browser_training.py [--checkpoints 60 120 300] [--seeds 0 1 2] [--backends webgl]
                                     [--grids out/browser] [--throttle 4] [--threads 1]

The line after the command says what ran (isolation, threads, throttling); the last compares the
PyTorch twin (``configs/cpu_short.yaml``, 300 steps of 32, about 90 s on 2 cores).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from common import print_command

# The course package's verdict: imported here only.
from ganlab.diagnostics import sample_quality
from ganlab.grids import save_grid

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PAGE = "book/train_live.html"
SAMPLES = 512
# WebGL in a headless Chromium without a GPU: ANGLE on SwiftShader, the software renderer.
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """The site on http://127.0.0.1:<port>/ for the duration of the block: a plain static server,
    no header of cross-origin isolation (the page's service worker adds them)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def open_trainer(
    browser: object, server: str, backend: str, seed: int, throttle: float = 1, threads: int = 0
) -> object:
    """The page, loaded with a backend and a seed, ready to start (after the service worker's
    reload), CPU-throttled ``throttle`` times; fails on a console error or a request off the site."""
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    origin = urlparse(server).netloc
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    def request(req: object) -> None:
        url = urlparse(req.url)  # type: ignore[attr-defined]
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != origin:
            errors.append(f"a request off the site: {req.url}")  # type: ignore[attr-defined]

    page.on("request", request)
    query = f"?backend={backend}&seed={seed}" + (f"&threads={threads}" if threads else "")
    page.goto(f"{server}{PAGE}{query}", wait_until="networkidle")
    # The first visit reloads once (the service worker then controls the page): the handle only
    # appears in the page that stays.
    page.wait_for_function("window.ganlabTrainer && window.ganlabTrainer.ready", timeout=120_000)
    page.evaluate("window.ganlabTrainer.ready")
    if errors:
        raise RuntimeError(f"the page logged errors with backend {backend}: {errors[:3]}")
    got = page.evaluate("window.ganlabTrainer.backend")
    if got != backend:
        raise RuntimeError(f"asked for the {backend} backend, the page runs {got}")
    if throttle != 1:
        cdp = page.context.new_cdp_session(page)  # type: ignore[attr-defined]
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})  # until the page closes
    return page


def train_for(page: object, seconds: float) -> float:
    """Train for ``seconds`` of wall-clock time, then pause; the seconds it trained, the step that
    was under way at the pause included (a slow step is a large share of a short run)."""
    start = time.monotonic()
    page.evaluate("window.ganlabTrainer.start()")  # type: ignore[attr-defined]
    time.sleep(seconds)
    page.evaluate("window.ganlabTrainer.pause()")  # type: ignore[attr-defined]
    return time.monotonic() - start


def verdict(page: object, grid: Path | None = None) -> tuple[float, int]:
    """(share recognised with confidence, classes with 5% or more) of 512 fixed-latent samples; ``grid``: where
    to save the first 64 as the page draws them."""
    values = page.evaluate(f"window.ganlabTrainer.samples({SAMPLES}).then(a => Array.from(a))")  # type: ignore[attr-defined]
    images = torch.tensor(np.asarray(values, np.float32)).view(SAMPLES, 1, 28, 28)
    if grid is not None:
        save_grid(images[:64], grid, nrow=8)
    quality = sample_quality(images)
    return quality.confident, quality.classes_seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=REPO / "_build" / "html")
    parser.add_argument("--checkpoints", type=float, nargs="+", default=[60, 120, 300], help="seconds of training")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backends", nargs="*", default=["webgl"], help="further backends timed (wasm always runs)")
    parser.add_argument("--backend-seconds", type=float, default=60)
    parser.add_argument("--grids", type=Path, help="a folder for each seed's sample grid at each checkpoint (PNG)")
    parser.add_argument("--throttle", type=float, default=1, metavar="RATE", help="slow Chromium's CPU RATE times")
    parser.add_argument("--threads", type=int, default=0, help="WebAssembly threads asked of the page (0: its own)")
    args = parser.parse_args(argv)
    if not (args.site / PAGE).is_file():
        print(f"error: {args.site / PAGE} is missing: build the site first (bash book/build.sh)", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    checkpoints = sorted(args.checkpoints)
    if args.grids:
        args.grids.mkdir(parents=True, exist_ok=True)
    print_command(__file__, argv)
    from playwright.sync_api import sync_playwright

    speeds: dict[str, list[float]] = {}
    options = {"throttle": args.throttle, "threads": args.threads}
    with serve(args.site) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        recipe = None
        for seed in args.seeds:
            page = open_trainer(browser, server, "wasm", seed, **options)
            recipe = recipe or page.evaluate("window.ganlabTrainer.recipe()")
            if seed == args.seeds[0]:
                isolated, threads, garments_at = page.evaluate(
                    "[window.ganlabTrainer.crossOriginIsolated, window.ganlabTrainer.threads, window.ganlabTrainer.garmentsAt]"
                )
                print(
                    f"cross-origin isolated: {isolated}; wasm threads: {threads}; CPU throttling: {args.throttle:g}x; "
                    f"the page expects garments at step {garments_at}",
                    flush=True,
                )
            trained = 0.0  # seconds, as train_for measures them
            for at, since in zip(checkpoints, [0.0, *checkpoints]):
                trained += train_for(page, at - since)
                step, own = page.evaluate("[window.ganlabTrainer.step, window.ganlabTrainer.stepsPerSecond]")
                grid = args.grids / f"seed{seed}_{at:g}s.png" if args.grids else None
                confident, classes = verdict(page, grid)
                speeds.setdefault("wasm", []).append(step / trained)
                print(
                    f"seed {seed} wasm {at / 60:4.1f} min: step {step:5d} ({step / trained:.2f} steps/s, "
                    f"the last seconds {own:.2f}), {confident:.0%} recognised with confidence, {classes} classes",
                    flush=True,
                )
                print(f"  the page: {page.inner_text('#gt-eta')}", flush=True)
            page.close()
        for backend in args.backends:
            page = open_trainer(browser, server, backend, args.seeds[0], **options)
            seconds = train_for(page, args.backend_seconds)
            step = page.evaluate("window.ganlabTrainer.step")
            speeds.setdefault(backend, []).append(step / seconds)
            print(
                f"seed {args.seeds[0]} {backend} {args.backend_seconds:.0f} s: step {step} ({step / seconds:.2f} steps/s)"
            )
            page.close()
        browser.close()
    print(f"recipe: {recipe}")
    for backend, values in speeds.items():
        print(f"steps/s {backend}: median {np.median(values):.2f} over {len(values)} measurements")
    print(
        "reference: the same recipe in PyTorch (configs/cpu_short.yaml, 300 steps of 32) reaches about 21% recognised with confidence, 7 classes (seed 0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
