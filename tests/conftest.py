"""Fixtures and hooks shared by every test file (the plain helpers they use are in ``helpers.py``).

Tiers are pytest markers (registered in pyproject.toml): ``make test-fast`` deselects ``slow``,
``browser``, ``grading``, ``training`` and ``dataset``; ``make test`` runs everything. A test marked
``dataset`` fails at set-up with one line when Fashion-MNIST is missing; nothing else needs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import AUTOGRADER, FASHION_MISSING, ROOT, fashion_installed, run_cli, write_fake_fashion

# autograder/ holds scripts, not a package: put it on the path once, for every test file that imports one.
if str(AUTOGRADER) not in sys.path:
    sys.path.insert(0, str(AUTOGRADER))

# Under pytest-xdist (CI runs two workers) a session or module fixture is built once in each worker
# that needs it. The tests that share an expensive one are kept on one worker (``--dist loadgroup``),
# so the grading round, the site build and the recipe's training still happen once per run.
# Costliest first: the workers take groups in the order of their tests, so these start at once
# and the cheap tests fill the gaps (longest first); alphabetical order left the recipe's
# training, the second-longest, to start minutes late and end last.
SHARED_FIXTURES = {
    "grading_round": "grading-round",
    "recipe_run": "recipe-run",
    "class_graded": "class-grading",
    "site": "site-build",
    "escapes": "sandbox-escapes",
    "features": "inception",
    "student_setup": "student-environment",
    "zygote": "zygote",
}


def pytest_configure(config: pytest.Config) -> None:
    # One intra-op thread for the tests run in this process. The suite's processes share the
    # cores (two xdist workers, grading kernels, subprocesses), and OpenMP threads that wait for
    # a busy core spin: a tiny model's debug epoch took 14 s with 2 threads on a loaded 2-core
    # machine, 0.4 s with 1. Subprocesses (the CLI trainer, notebooks) keep torch's default.
    import torch

    torch.set_num_threads(int(os.environ.get("GANLAB_TEST_THREADS", "1")))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    order = list(SHARED_FIXTURES)
    rank: dict[int, int] = {}
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        name = next((name for name in order if name in fixtures), None)
        if name is not None:
            item.add_marker(pytest.mark.xdist_group(SHARED_FIXTURES[name]))
        # The shared fixtures' groups first, then the other slow tests, then the rest.
        rank[id(item)] = order.index(name) if name else len(order) + (0 if item.get_closest_marker("slow") else 1)
    items.sort(key=lambda item: rank[id(item)])  # stable: each group keeps its tests' order


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("dataset") and not fashion_installed():
        pytest.fail(f"{item.name} {FASHION_MISSING}", pytrace=False)
    if item.get_closest_marker("cuda"):
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU")


@pytest.fixture
def cli(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess]:
    """``python -m ganlab_solution ARGS`` run in this process, through the ``main`` the CLI's process calls.

    The process's exit status is ``main``'s return value (``sys.exit(main())``), and capfd reads
    the file descriptors, so output written below Python is captured too. For the argument and
    input checks; a few tests keep a real process (:func:`helpers.run_cli`) for what only it shows.
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


@pytest.fixture(scope="session")
def fake_fashion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Fashion-MNIST-shaped folder of random images: for code paths, where no learning is judged."""
    return write_fake_fashion(tmp_path_factory.mktemp("fake_fashion"))


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``released(folder)``: a scratch course in ``folder`` with the real configuration and the assignment
    released, copied from one ``nbgrader generate_assignment`` per test process (the round releases its own)."""
    import grading_round as gr  # autograder/grading_round.py

    template = tmp_path_factory.mktemp("released")
    gr.make_course(template)
    gr.nbgrader(template, "generate_assignment", gr.ASSIGNMENT, "--force")

    def copy(folder: Path) -> Path:
        gr.make_course(folder)
        shutil.copytree(template / "release", folder / "release")
        shutil.copy(template / "gradebook.db", folder / "gradebook.db")  # the release's cells and checksums
        return folder

    return copy


@pytest.fixture(scope="session")
def grading_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One real nbgrader round over the whole catalogue, shared by the grading, feedback and manual-grade tests.

    Returns the round's course folder and its results by (student, notebook).
    """
    import grading_round as round_script  # autograder/grading_round.py

    workdir = tmp_path_factory.mktemp("round")
    # GANLAB_ROUND_NOTEBOOKS="01_data 02_critic" grades only those notebooks (a quicker local check).
    notebooks = os.environ.get("GANLAB_ROUND_NOTEBOOKS", "").split() or None
    # A 20 s cell limit (the course's is 60 s): the catalogue's infinite loop costs one limit, and the
    # heaviest graded cell (an ONNX export, about 3 s here) stays far inside it on a slower machine.
    return workdir, round_script.run_round(workdir, round_script.load_cases(), notebooks, timeout=20)


@pytest.fixture(scope="session")
def recipe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CPU recipe (configs/cpu_short.yaml, seed 0) trained once, as ``scripts/demo.sh`` trains it.

    Every test that judges the recipe's result reads this run folder; none trains it again.
    """
    if not fashion_installed():
        pytest.fail(f"recipe_run {FASHION_MISSING}", pytrace=False)
    import yaml

    from ganlab.recipes import CPU_SHORT

    folder = tmp_path_factory.mktemp("recipe")
    config = yaml.safe_load(CPU_SHORT.read_text())
    config["logging"]["logdir"] = str(folder / "logs")
    path = folder / "cpu_short.yaml"
    path.write_text(yaml.safe_dump(config))
    trained = run_cli("train", str(path), timeout=1800)
    assert trained.returncode == 0, trained.stderr[-2000:]
    (run_dir,) = (folder / "logs").iterdir()
    return run_dir


# The built website, its server and Chromium: one build per test session, shared by the
# browser test modules (test_book.py, test_train_live.py).
from tests.site_browser import browser, server, site  # noqa: E402, F401
