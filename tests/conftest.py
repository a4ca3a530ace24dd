"""Shared fixtures: small real-data training configs and the shipped generator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")
SHIPPED_ONNX = ROOT / "ganlab_solution" / "assets" / "fashionmnist_generator.onnx"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m ganlab_solution ARGS`` and capture its output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ganlab_solution", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def cli(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess]:
    """``python -m ganlab_solution ARGS`` run in this process, through the ``main`` the CLI's process calls.

    The process's exit status is ``main``'s return value (``sys.exit(main())``), and capfd reads
    the file descriptors, so output written below Python is captured too. For the argument and
    input checks; a few tests keep a real process (:func:`run_cli`) for what only it shows.
    """
    from ganlab_solution.__main__ import main

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        monkeypatch.chdir(cwd or ROOT)
        capfd.readouterr()
        status = main(list(args))
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess([sys.executable, "-m", "ganlab_solution", *args], status, out, err)

    return run


@pytest.fixture
def course_package_missing(tmp_path: Path) -> Path:
    """A folder that, first on PYTHONPATH, makes ``import ganlab_solution`` fail as on a machine without it."""
    package = tmp_path / "shadow" / "ganlab_solution"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('simulated: the course package is not installed')\n")
    return package.parent


def debug_config(tmp_path: Path, **sections: dict) -> dict:
    """A debug run on the real Fashion-MNIST: 8 batches of 16 images per epoch, on CPU."""
    config = {
        "data": {"dataset": "FashionMNIST", "rootdir": str(FASHION), "debug": True, "batch_size": 16},
        "optim": {"nepochs": 1},
        "logging": {"logdir": str(tmp_path / "logs")},
        "device": "cpu",
        "seed": 0,
    }
    for key, values in sections.items():
        config.setdefault(key, {}).update(values) if isinstance(values, dict) else config.update({key: values})
    return config


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


@pytest.fixture(scope="session", autouse=True)
def _needs_fashion_mnist() -> None:
    if not FASHION.is_dir():
        pytest.fail(f"{FASHION} is missing: run `make setup` (it installs Debian's dataset-fashion-mnist)")


@pytest.fixture(scope="session")
def grading_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One real nbgrader round over the whole catalogue, shared by the grading and feedback tests.

    Returns the round's course folder and its results by (student, notebook).
    """
    sys.path.insert(0, str(ROOT / "autograder"))
    import grading_round as round_script  # a script folder, not a package

    workdir = tmp_path_factory.mktemp("round")
    # GANLAB_ROUND_NOTEBOOKS="01_data 02_critic" grades only those notebooks (a quicker local check).
    notebooks = os.environ.get("GANLAB_ROUND_NOTEBOOKS", "").split() or None
    return workdir, round_script.run_round(workdir, round_script.load_cases(), notebooks)


# The built website, its server and Chromium: one build per test session, shared by the
# browser test modules (test_book.py, test_train_live.py).
from tests.site_browser import browser, server, site  # noqa: E402, F401
