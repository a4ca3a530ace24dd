"""Does the "Watch a GAN learn" page learn, and how fast, in headless Chromium on this machine?

Serves the built site (``_build/html``, made by ``bash book/build.sh``), opens
``book/train_live.html`` in Debian's Chromium and, for each seed, trains with the page's
browser recipe, pausing at each checkpoint (seconds of training; the pauses are not counted)
to ask the shipped classifier about 512 samples of the page's fixed latents, with the same
function as the CPU short run's verdict (``sample_quality``: "x% recognised with confidence,
y classes"). Then each further backend trains for ``--backend-seconds`` to measure its speed
(WebGL here is Chromium's software renderer, SwiftShader: no GPU).

    python bench/browser_training.py [--checkpoints 60 120 300] [--seeds 0 1 2] [--backends webgl]
                                     [--grids out/browser] [--isolated]

Every figure is printed with the command that made it. The CPU short run's verdict (PyTorch,
``configs/cpu_short.yaml``, 656 steps of 64, about 3 minutes on 2 cores) is about 32%
recognised with confidence over 8 classes.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shlex
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

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
def serve(site: Path, isolated: bool = False) -> Iterator[str]:
    """The site on http://127.0.0.1:<port>/ for the duration of the block.

    ``isolated`` adds the two headers of cross-origin isolation (COOP and COEP), under which
    the browser allows SharedArrayBuffer and TensorFlow.js's wasm backend runs its threaded build.
    """

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def end_headers(self) -> None:
            if isolated:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def open_trainer(browser: object, server: str, backend: str, seed: int) -> object:
    """The page, loaded with a backend and a seed, ready to start; fails on a console error."""
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(f"{server}{PAGE}?backend={backend}&seed={seed}", wait_until="networkidle")
    page.wait_for_function("window.ganlabTrainer && window.ganlabTrainer.ready", timeout=120_000)
    page.evaluate("window.ganlabTrainer.ready")
    if errors:
        raise RuntimeError(f"the page logged errors with backend {backend}: {errors[:3]}")
    got = page.evaluate("window.ganlabTrainer.backend")
    if got != backend:
        raise RuntimeError(f"asked for the {backend} backend, the page runs {got}")
    return page


def train_for(page: object, seconds: float) -> None:
    """Train for ``seconds`` of wall-clock time, then pause (waits for the step under way)."""
    page.evaluate("window.ganlabTrainer.start()")  # type: ignore[attr-defined]
    time.sleep(seconds)
    page.evaluate("window.ganlabTrainer.pause()")  # type: ignore[attr-defined]


def verdict(page: object, grid: Path | None = None) -> tuple[float, int]:
    """(share recognised with confidence, classes with 5% or more) of 512 fixed-latent samples.

    ``grid``: also save the first 64 samples there, as the page draws them, to look at.
    """
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
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="serve with cross-origin isolation headers (COOP/COEP): the wasm backend may then use threads",
    )
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
    print("command: python bench/browser_training.py " + shlex.join(argv if argv is not None else sys.argv[1:]))
    from playwright.sync_api import sync_playwright

    speeds: dict[str, list[float]] = {}
    with serve(args.site, args.isolated) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        recipe = None
        for seed in args.seeds:
            page = open_trainer(browser, server, "wasm", seed)
            recipe = recipe or page.evaluate("window.ganlabTrainer.recipe()")
            if seed == args.seeds[0]:
                isolated, threads = page.evaluate("[window.crossOriginIsolated, tf.wasm.getThreadsCount()]")
                print(f"cross-origin isolated: {isolated}; wasm threads: {threads}", flush=True)
            trained = 0.0
            for at in checkpoints:
                train_for(page, at - trained)
                trained = at
                step = page.evaluate("window.ganlabTrainer.step")
                grid = args.grids / f"seed{seed}_{at:g}s.png" if args.grids else None
                confident, classes = verdict(page, grid)
                speeds.setdefault("wasm", []).append(step / trained)
                print(
                    f"seed {seed} wasm {at / 60:4.1f} min: step {step:5d} ({step / trained:.2f} steps/s), "
                    f"{confident:.0%} recognised with confidence, {classes} classes",
                    flush=True,
                )
            page.close()
        for backend in args.backends:
            page = open_trainer(browser, server, backend, args.seeds[0])
            train_for(page, args.backend_seconds)
            step = page.evaluate("window.ganlabTrainer.step")
            speeds.setdefault(backend, []).append(step / args.backend_seconds)
            print(
                f"seed {args.seeds[0]} {backend} {args.backend_seconds:.0f} s: step {step} ({step / args.backend_seconds:.2f} steps/s)"
            )
            page.close()
        browser.close()
    print(f"recipe: {recipe}")
    for backend, values in speeds.items():
        print(f"steps/s {backend}: median {np.median(values):.2f} over {len(values)} measurements")
    print(
        "reference: the CPU short run (PyTorch, 656 steps of 64) reaches about 32% recognised with confidence, 8 classes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
