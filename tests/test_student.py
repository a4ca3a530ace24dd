"""The student's path: a package without answers, and release notebooks, answered correctly, that train the
student's own GAN top to bottom in an environment with the student wheel only (the slow tests)."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import ganlab
from ganlab.answers import AnswerMissing, load_answers
from ganlab.exercises import EXERCISES
from ganlab_solution.models import Generator
from ganlab_solution.steps import critic_step

from . import student_notebooks
from .helpers import ROOT, marked

STUDENT_PACKAGE = ROOT / "ganlab"
ANSWER_NAMES = {name for exercise in EXERCISES for name in exercise.names}


def test_the_student_package_defines_imports_and_exposes_no_answer():
    for path in STUDENT_PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                assert node.name not in ANSWER_NAMES, f"{path}:{node.lineno} defines the answer {node.name}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [getattr(node, "module", None) or "", *(alias.name for alias in node.names)]
                imported = [m for m in modules if m.startswith("ganlab_solution")]
                assert not imported, f"{path}:{node.lineno} imports the reference package"
    for info in pkgutil.walk_packages(ganlab.__path__, "ganlab."):  # re-exports included
        exposed = ANSWER_NAMES & set(vars(importlib.import_module(info.name)))
        assert not exposed, f"{info.name} exposes {exposed}"


# -- the answer loader -------------------------------------------------------------------------


def test_load_answers_binds_the_students_own_networks(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = student_notebooks.answered(tmp_path / "student")
    namespace: dict = {}
    load_answers(namespace, "02_critic", "CBlock", "Discriminator", folder=folder)
    printed = capsys.readouterr().out
    assert "yours" in printed and "CBlock, Discriminator from 02_critic.ipynb" in printed
    critic = namespace["Discriminator"]((1, 28, 28), 0.5, 32, 0.1, 2)
    assert type(critic).__module__ == "ganlab_answers_02_critic"  # defined by the student's cell, not the reference
    assert [name for name, _ in critic.named_children()] == ["blocks", "head"]


def test_a_missing_answer_is_named_in_one_line_and_fails_only_where_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """A blank Discriminator: notebook 4 says which notebook and exercise to fix, and nothing crashes."""
    folder = student_notebooks.answered(tmp_path / "student", student_notebooks.DISCRIMINATOR_NOT_WRITTEN)
    # Without the reference package, as on a student's machine.
    for module in ("ganlab_solution", "ganlab_solution.models"):
        monkeypatch.setitem(sys.modules, module, None)
    namespace: dict = {}
    load_answers(namespace, "02_critic", "CBlock", "Discriminator", folder=folder)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    fix = [line for line in lines if "Discriminator" in line and "fix" in line]
    assert len(fix) == 1, lines
    assert "02_critic.ipynb (exercise 2.3)" in fix[0] and "not written yet" in fix[0], fix[0]
    assert "CBlock" in lines[0] and "yours" in lines[0]
    with pytest.raises(AnswerMissing, match="exercise 2.3"):
        namespace["Discriminator"]((1, 28, 28), 0.5, 32, 0.1, 2)


def test_the_reference_fills_in_only_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """Where the instructor handed out the reference, a missing notebook is replaced, and the notebook says so;
    graded runs take earlier answers from the reference."""
    namespace: dict = {}
    load_answers(namespace, "03_generator", "Generator", folder=tmp_path)  # no notebook at all here
    printed = capsys.readouterr().out
    assert "reference" in printed and "03_generator.ipynb (exercise 3.2)" in printed
    assert namespace["Generator"] is Generator
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    load_answers(namespace, "04_gan_and_losses", "critic_step", folder="/nonexistent")
    assert namespace["critic_step"] is critic_step


# -- the release notebooks in a fresh environment without the answers ---------------------------


def student_environment(tmp_path: Path) -> Path:
    """A venv with the student wheel only. This interpreter's site-packages reach it through a path file
    (no second torch download), whose own path files do not run: the repository's editable installs stay out."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    (site / "host_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The student command, `pip install .`, on a copy of the checkout (the reference too: packaging leaves it out).
    source = tmp_path / "src"
    for package in ("ganlab", "ganlab_solution"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    result = subprocess.run([*install, "--target", str(site), str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return python


def run_notebooks(python: Path, folder: Path, steps: int | None = None) -> dict[str, str]:
    """Execute every notebook of ``folder`` in order, in that folder, with ``python``'s kernel; ``steps`` cuts the
    training cells (``GANLAB_STEPS``), None trains the whole recipe."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION", "GANLAB_STEPS")}
    env.update(MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")
    env.setdefault("OMP_NUM_THREADS", "2")  # a student's laptop; the test runner sets 1 beside its other worker
    if steps is not None:
        env["GANLAB_STEPS"] = str(steps)
    script = (
        "import sys, nbformat\n"
        "from nbclient import NotebookClient\n"
        "for path in sys.argv[1:]:\n"
        "    nb = nbformat.read(path, as_version=4)\n"
        "    NotebookClient(nb, timeout=1800, kernel_name='python3', resources={'metadata': {'path': '.'}}).execute()\n"
        "    nbformat.write(nb, path)\n"
    )
    paths = sorted(p.name for p in folder.glob("*.ipynb"))
    result = subprocess.run(
        [str(python), "-c", script, *paths], cwd=folder, env=env, capture_output=True, text=True, timeout=3000
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {Path(p).stem: student_notebooks.outputs(folder / p) for p in paths}


student_run_marks = marked("slow", "dataset", "training", "grading")


@pytest.fixture(scope="module")
def student_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A student environment (the student wheel only) and the release notebooks of ``nbgrader generate_assignment``."""
    tmp_path = tmp_path_factory.mktemp("student")
    python = student_environment(tmp_path)
    course = tmp_path / "course"
    shutil.copytree(ROOT / "autograder", course, ignore=shutil.ignore_patterns("release", "submitted", "autograded"))
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    return python, student_notebooks.release(course)


@pytest.fixture(scope="module")
def student_run(student_setup: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The seven release notebooks run in one folder, every answer correct, but the generator ends with a
    3x3 convolution (the lab's: 1x1), which notebooks 5 to 7 must use. Training is cut to 10 steps here;
    ``bench/student_run.py`` runs the whole recipe and judges its garments."""
    python, release_dir = student_setup
    folder = tmp_path_factory.mktemp("work")
    change = ("nn.Conv2d(widths[-1], channels, 1)", "nn.Conv2d(widths[-1], channels, 3, padding=1)")
    student_notebooks.fill(release_dir, folder, {"generator": change})
    return {"python": python, "folder": folder, "outputs": run_notebooks(python, folder, steps=10)}


@student_run_marks
def test_the_student_environment_has_the_student_package_only(student_setup: tuple[Path, Path]):
    """``pip install .`` (the README's student command) installs ganlab and its assets, no reference answers."""
    python, release_dir = student_setup
    result = subprocess.run(
        [str(python), "-c", "import ganlab_solution"], cwd=release_dir, capture_output=True, text=True
    )
    assert result.returncode != 0 and "No module named 'ganlab_solution'" in result.stderr
    (site,) = python.parents[1].glob("lib/python*/site-packages")
    installed = {path.relative_to(site).as_posix() for path in site.rglob("*") if path.is_file()}
    wanted = {f"ganlab/{p.relative_to(STUDENT_PACKAGE).as_posix()}" for p in STUDENT_PACKAGE.rglob("*.py")}
    wanted |= {f"ganlab/assets/fashionmnist_{name}" for name in ("generator.onnx", "classifier.pt")}
    assert wanted <= installed
    assert not [name for name in installed if name.startswith("ganlab_solution")]


@student_run_marks
def test_the_release_notebooks_run_on_the_students_own_answers(student_run: dict):
    outputs = student_run["outputs"]
    assert "Discriminator from 02_critic.ipynb" in outputs["04_gan_and_losses"]
    assert "GAN, make_optimizers, critic_step, generator_step from 04_gan_and_losses.ipynb" in outputs["05_training"]
    assert "generate_images from 06_generation.ipynb" in outputs["07_going_further"]
    for stem, text in outputs.items():
        assert "using the reference answer" not in text, (stem, text[-1500:])
        assert "Check failed" not in text and "Missing answer" not in text, (stem, text[-1500:])
    assert "exploring your generator" in outputs["06_generation"]


@student_run_marks
def test_notebook_5_trains_and_exports_the_students_own_generator(student_run: dict):
    """The student's distinctive generator (a 3x3 last convolution) is what notebook 5 trained and exported."""
    path = student_run["folder"] / "my_generator.onnx"
    weights = [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer]
    last = [w for w in weights if w.ndim == 4 and w.shape[0] == 1]  # the convolution that makes the one channel
    assert [w.shape for w in last] == [(1, 16, 3, 3)], "the exported generator is not the student's"
    assert float(np.abs(last[0]).max()) > 0, "an empty layer"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = session.run(None, {"input": np.random.default_rng(0).standard_normal((8, 100)).astype(np.float32)})[0]
    assert images.shape == (8, 1, 28, 28) and np.abs(images).max() <= 1
    assert "10 steps in" in student_run["outputs"]["05_training"]
