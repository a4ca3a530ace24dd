"""The "Watch a GAN learn" page of the built site in Chromium: it loads cleanly, isolates itself (its service
worker, one reload) to train on several threads, trains, estimates, pauses, and its TensorFlow.js network computes
the losses ``ganlab_solution.models`` computes from the same weights and data. Its 5-minute learning run is a
benchmark (``bench/browser_training.py``), not a test.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.site_browser import Watched

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGE = "book/train_live.html"
TRAIN_LIVE_JS = Path(__file__).resolve().parents[1] / "book" / "train_live_src" / "train_live.js"
IMAGES = "train_live/fashion-mnist-train.u8"
# Same model, same numbers: the first step's losses agree to 1e-6 (float32 summed in other orders). Adam's first
# updates move every weight by about +-lr whatever its gradient, so rounding in near-zero gradients grows with lr
# squared: gaps after 4 steps, 5e-3 at lr 1e-3, 1.4e-4 at 1e-4, 2e-6 at 1e-5 (a wrong formula would grow linearly).
# So the replay trains both networks at lr 1e-4, and the gradients themselves are compared at every step.
LOSS_TOLERANCE = 1e-3
REPLAY_LR = 1e-4
REPLAY_STEPS = 4


def _open(watched: Watched) -> None:
    """The page loaded (after its service worker's reload, when there is one), its trainer ready."""
    watched.open(watched.server + PAGE)
    watched.page.wait_for_function("window.ganlabTrainer && window.ganlabTrainer.ready", timeout=60_000)
    watched.page.evaluate("window.ganlabTrainer.ready")


@pytest.fixture(scope="module")
def trainer(server: str, browser: object) -> Iterator[Watched]:
    watched = Watched(browser, server)  # a fresh browser context: no service worker yet
    _open(watched)
    yield watched
    watched.page.evaluate("window.ganlabTrainer.pause()")
    assert not watched.errors, watched.errors
    assert not watched.foreign, watched.foreign
    watched.page.close()


def _engine(page: object) -> str:
    """What the page says runs its steps: "wasm, 2 threads, cross-origin isolated"."""
    threads = page.evaluate("window.ganlabTrainer.threads")  # type: ignore[attr-defined]
    return f"wasm, {threads} thread{'' if threads == 1 else 's'}, cross-origin isolated"


def test_the_page_loads_with_its_data_and_backend(trainer: Watched) -> None:
    page = trainer.page
    # No WebGPU adapter in this headless Chromium (or only a software one): WebAssembly, silently.
    adapter = page.evaluate(
        "navigator.gpu ? navigator.gpu.requestAdapter()"
        ".then(a => !!a && !(a.isFallbackAdapter || (a.info && a.info.isFallbackAdapter))) : false"
    )
    if adapter:
        pytest.skip("this browser has a WebGPU adapter: the page trains there, the checks below are for wasm")
    assert page.evaluate("window.ganlabTrainer.backend") == "wasm"
    backends = page.evaluate("Array.from(document.querySelectorAll('#gt-backend option'), o => o.value)")
    assert backends == ["wasm", "webgl", "cpu"]
    assert page.evaluate("window.ganlabTrainer.step") == 0
    status = page.inner_text("#gt-status")
    assert "Press Start" in status and f"on {_engine(page)}." in status, status
    assert page.inner_text("#gt-eta").startswith(f"Runs on {_engine(page)}.")


def test_the_page_is_cross_origin_isolated_by_its_service_worker_and_runs_threads(trainer: Watched) -> None:
    """On a plain static server (no COOP/COEP header): the page's own service worker, for it only."""
    page = trainer.page
    assert page.evaluate("[window.crossOriginIsolated, window.ganlabTrainer.crossOriginIsolated]") == [True, True]
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"  # the one reload
    worker, scope = page.evaluate("navigator.serviceWorker.getRegistration().then(r => [r.active.scriptURL, r.scope])")
    assert worker == trainer.server + "coi-serviceworker.js", worker  # the npm package's, from the site root
    assert scope == trainer.server + PAGE, scope  # this page only: no other page of the site is ever under it
    # The threaded SIMD build, from the site's own copy, on every core (tfjs-backend-wasm's cap of
    # half the logical cores is lifted by the page).
    wasm = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/vendor/tfjs/'))"
    )
    assert trainer.server + "vendor/tfjs/tfjs-backend-wasm-threaded-simd.wasm" in wasm, wasm
    cores = page.evaluate("navigator.hardwareConcurrency")
    threads = page.evaluate("window.ganlabTrainer.threads")
    assert threads == min(cores, 8) and page.evaluate("tf.wasm.getThreadsCount()") == threads
    if cores > 1:
        assert threads > 1


def test_without_a_service_worker_the_page_trains_on_one_thread_and_says_why(server: str, browser: object) -> None:
    """A browser that refuses service workers (some private windows): no reload, no isolation."""
    watched = Watched(browser, server, service_workers="block")
    try:
        _open(watched)
        page = watched.page
        assert page.evaluate("[window.crossOriginIsolated, window.ganlabTrainer.threads]") == [False, 1]
        assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate"  # not reloaded
        engine = f"wasm, 1 thread (not cross-origin isolated: {page.evaluate('window.ganlabTrainer.isolation')})"
        assert f"on {engine}. Press Start." in page.inner_text("#gt-status")
        assert not watched.errors and not watched.foreign, (watched.errors, watched.foreign)
    finally:
        watched.page.close()


def test_training_moves_the_counter_and_the_grid_and_pause_stops_it(trainer: Watched) -> None:
    page = trainer.page
    before = trainer.picture("#gt-grid")
    page.click("#gt-start")
    # The grid is redrawn at step 10 (GRID_EVERY), before the loop takes step 11.
    page.wait_for_function("window.ganlabTrainer.step >= 10", timeout=180_000)
    # The speed and the estimate show after the first seconds of training.
    page.wait_for_function("window.ganlabTrainer.etaSeconds !== null", timeout=60_000)
    # A real mouse click: it waits for frames that a busy machine's training steps hold back (at
    # 0.2 steps/s Playwright's default 30 s ran out), so it gets as long as the pause itself.
    page.click("#gt-pause", timeout=120_000)
    # Pause says so once the step under way (and a redraw) has finished and the loop has ended.
    paused = "document.querySelector('#gt-status').textContent.startsWith('Paused at step')"
    page.wait_for_function(paused, timeout=120_000)
    stopped = page.evaluate("window.ganlabTrainer.step")
    assert page.inner_text("#gt-status") == f"Paused at step {stopped}."
    # Two steps' time at the measured speed (1.5 s at most): a loop that went on would take a step.
    page.wait_for_timeout(min(1500, 2000 / page.evaluate("window.ganlabTrainer.stepsPerSecond")))
    assert page.evaluate("window.ganlabTrainer.step") == stopped, "training went on after Pause"
    assert trainer.picture("#gt-grid") != before, "the fixed-noise grid was not redrawn"
    history = page.evaluate("window.ganlabTrainer.history")
    assert len(history["critic_loss"]) == stopped
    assert all(np.isfinite(history[key]).all() for key in history)
    speed = page.inner_text("#gt-speed")
    assert f"step {stopped}" in speed and "steps/s" in speed and "backend wasm" in speed


def test_the_page_estimates_when_garments_appear_from_its_measured_speed(trainer: Watched) -> None:
    page = trainer.page
    if page.evaluate("window.ganlabTrainer.etaSeconds") is None:  # run alone: train a few seconds first
        page.evaluate("window.ganlabTrainer.start()")
        page.wait_for_function("window.ganlabTrainer.etaSeconds !== null", timeout=60_000)
        page.evaluate("window.ganlabTrainer.pause()")
    shown = page.inner_text("#gt-eta")
    state = page.evaluate(
        "(({step, stepsPerSecond, garmentsAt, etaSeconds, etaText}) =>"
        " ({step, stepsPerSecond, garmentsAt, etaSeconds, etaText}))(window.ganlabTrainer)"
    )
    step, speed, garments_at, eta = (state[k] for k in ("step", "stepsPerSecond", "garmentsAt", "etaSeconds"))
    assert shown == state["etaText"]
    assert garments_at == int(re.search(r"const GARMENTS_AT = (\d+);", TRAIN_LIVE_JS.read_text())[1])
    found = re.fullmatch(
        rf"([\d.]+) steps/s on {re.escape(_engine(page))}: garments (in about (\d+) min|in less than a minute) "
        rf"on this machine \(at step {garments_at}\)\.",
        shown,
    )
    assert found, shown
    assert speed > 0 and float(found[1]) == pytest.approx(speed, abs=0.006)
    # The estimate is the steps left to the recipe's target over the measured speed.
    assert eta == pytest.approx((garments_at - step) / speed, rel=1e-6)
    assert (int(found[3]) if found[3] else 0) == round(eta / 60)


def test_samples_come_from_fixed_latents_in_range(trainer: Watched) -> None:
    page = trainer.page
    first = np.array(page.evaluate("window.ganlabTrainer.samples(8).then(a => Array.from(a))"), np.float32)
    again = np.array(page.evaluate("window.ganlabTrainer.samples(3).then(a => Array.from(a))"), np.float32)
    assert first.shape == (8 * 28 * 28,)
    assert np.abs(first).max() <= 1.0 and first.std() > 0
    # The same fixed latents: the first 3 of 8 are the 3 of a call for 3.
    np.testing.assert_allclose(again, first[: 3 * 784], atol=1e-5)
    assert page.evaluate("window.ganlabTrainer.samples(4) instanceof Promise")


def test_the_classifier_gives_its_verdict_in_the_training_pages_words(trainer: Watched) -> None:
    page = trainer.page
    verdict = page.evaluate("window.ganlabTrainer.verdict()")
    assert 0.0 <= verdict["confident"] <= 1.0 and 1 <= verdict["classes"] <= 10
    assert abs(sum(verdict["histogram"]) - 1.0) < 1e-6


# The tensors travel as base64 float32 bytes, the same numbers as a list of floats, 2 MB of text
# instead of half a million serialised numbers; decoded in the page, then given to its replay.
REPLAY = """spec => {
  const floats = (text) => new Float32Array(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);
  for (const entry of Object.values(spec.state)) entry.data = floats(entry.data);
  for (const key of ["batches", "zCritic", "zGenerator"]) spec[key] = spec[key].map(floats);
  return window.ganlabTrainer.replay(spec);
}"""


def _floats(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.detach().numpy().astype(np.float32).tobytes()).decode()


def same_model_losses(page: object, site: Path, steps: int = REPLAY_STEPS) -> tuple[list, list]:
    """[critic_loss, generator_loss] per step in the page (replay) and in PyTorch, same start and data."""
    from ganlab_solution.losses import critic_loss, generator_loss
    from ganlab_solution.models import Discriminator, Generator

    recipe = page.evaluate("window.ganlabTrainer.recipe()")  # type: ignore[attr-defined]
    batch, latent = 16, int(recipe["latentSize"])
    torch.manual_seed(3)
    critic = Discriminator((1, 28, 28), dropout=0.0, base_c=int(recipe["criticWidth"]), dnoise=0.0, num_classes=2)
    generator = Generator((1, 28, 28), latent_size=latent, base_c=int(recipe["generatorWidth"]))
    state = {f"discriminator.{k}": v for k, v in critic.state_dict().items()}
    state |= {f"generator.{k}": v for k, v in generator.state_dict().items()}
    pixels = np.fromfile(site / IMAGES, np.uint8, count=steps * batch * 784).astype(np.float32) / 127.5 - 1
    reals = torch.from_numpy(pixels).view(steps, batch, 1, 28, 28)
    noise = torch.randn(2, steps, batch, latent, generator=torch.Generator().manual_seed(4))
    in_browser = page.evaluate(  # type: ignore[attr-defined]
        REPLAY,
        {
            "recipe": {"dropout": 0, "dnoise": 0, "lblsmooth": 0, "criticLr": REPLAY_LR, "generatorLr": REPLAY_LR},
            "state": {k: {"shape": list(v.shape), "data": _floats(v)} for k, v in state.items()},
            "batches": [_floats(reals[k]) for k in range(steps)],
            "zCritic": [_floats(noise[0, k]) for k in range(steps)],
            "zGenerator": [_floats(noise[1, k]) for k in range(steps)],
        },
    )
    # The trainer's critic_step and generator_step with the given latents.
    critic_opt = torch.optim.Adam(critic.parameters(), lr=REPLAY_LR, betas=(0.5, 0.999))
    generator_opt = torch.optim.Adam(generator.parameters(), lr=REPLAY_LR, betas=(0.5, 0.999))
    in_torch = []
    for k in range(steps):
        with torch.no_grad():
            fake = generator(noise[0, k], None)
        loss_c = critic_loss(critic(reals[k]), critic(fake), lblsmooth=0.0)
        critic_opt.zero_grad()
        loss_c.backward()
        critic_opt.step()
        critic.requires_grad_(False)
        loss_g = generator_loss(critic(generator(noise[1, k], None)))
        generator_opt.zero_grad()
        loss_g.backward()
        generator_opt.step()
        critic.requires_grad_(True)
        in_torch.append([loss_c.item(), loss_g.item()])
    return in_browser, in_torch


def test_same_model_same_numbers_as_pytorch(trainer: Watched, site: Path) -> None:
    in_browser, in_torch = same_model_losses(trainer.page, site)
    assert len(in_browser) == len(in_torch) == REPLAY_STEPS
    gap = np.abs(np.array(in_browser) - np.array(in_torch))
    assert gap.max() < LOSS_TOLERANCE, f"browser {in_browser}\npytorch {in_torch}"
    # The comparison means something: the losses move over the steps in both.
    assert np.ptp(np.array(in_torch)[:, 1]) > 10 * LOSS_TOLERANCE


def test_the_browser_bench_runs(site: Path, tmp_path: Path) -> None:
    """bench/browser_training.py at tiny settings: it trains, pauses, judges, reports and saves the grid."""
    root = Path(__file__).resolve().parents[1]
    args = ["bench/browser_training.py", "--site", str(site), "--checkpoints", "5", "--seeds", "0", "--backends"]
    args += ["--throttle", "2"]  # Chromium's CPU throttling through the DevTools protocol
    args += ["--grids", str(tmp_path / "grids")]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("command: python bench/browser_training.py --site")
    assert any(line.startswith("seed 0 wasm  0.1 min: step") and "recognised with confidence" in line for line in lines)
    assert any(line.startswith("  the page: ") and "steps/s on wasm" in line for line in lines), lines
    assert any(line.startswith("steps/s wasm: median") for line in lines)
    # A plain static server: the page's service worker isolates it.
    what = next(line for line in lines if line.startswith("cross-origin isolated: "))
    assert what.startswith("cross-origin isolated: True; wasm threads: ") and "CPU throttling: 2x" in what, what
    from PIL import Image

    with Image.open(tmp_path / "grids" / "seed0_5s.png") as grid:  # 8 x 8 samples of 28 pixels, 2 apart
        assert grid.size == (8 * 30 + 2, 8 * 30 + 2)
