"""Packaging: the wheel carries the package and its assets; conda and pip environments agree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .helpers import ROOT

# tomllib is Python 3.11+; pyproject still admits 3.10, where these checks are skipped.
tomllib = pytest.importorskip("tomllib")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def project_requirements() -> dict[str, Requirement]:
    requirements = [Requirement(line) for line in PYPROJECT["dependencies"]]
    for extra in PYPROJECT["optional-dependencies"].values():
        requirements += [Requirement(line) for line in extra]
    return {req.name.lower(): req for req in requirements}


def conda_pip_lines() -> list[str]:
    return next(item["pip"] for item in ENVIRONMENT["dependencies"] if isinstance(item, dict))


def test_conda_python_satisfies_requires_python():
    python = next(item for item in ENVIRONMENT["dependencies"] if isinstance(item, str) and item.startswith("python="))
    version = python.split("=", 1)[1]
    assert version in SpecifierSet(PYPROJECT["requires-python"]), (python, PYPROJECT["requires-python"])


def test_conda_pins_fall_inside_the_pip_ranges():
    """environment.yml pins torch/torchvision; pyproject must accept exactly those versions."""
    known = project_requirements()
    pinned = [Requirement(line) for line in conda_pip_lines() if not line.startswith("-e")]
    assert {req.name for req in pinned} >= {"torch", "torchvision"}
    for req in pinned:
        assert req.name.lower() in known, f"environment.yml installs {req.name}, which pyproject.toml does not list"
        (spec,) = req.specifier
        assert spec.operator == "==", f"environment.yml should pin {req.name} exactly, not {req.specifier}"
        assert known[req.name.lower()].specifier.contains(spec.version), (str(req), str(known[req.name.lower()]))


def test_conda_installs_the_package_with_existing_extras():
    (editable,) = [line for line in conda_pip_lines() if line.startswith("-e")]
    target = editable.split(None, 1)[1].strip("\"'")
    assert target.startswith(".[") and target.endswith("]"), editable
    extras = set(target[2:-1].split(","))
    assert extras and extras <= set(PYPROJECT["optional-dependencies"]), (
        extras,
        list(PYPROJECT["optional-dependencies"]),
    )


@pytest.mark.slow
def test_wheel_ships_the_package_and_its_assets(tmp_path: Path):
    """A pip install from the wheel (not the checkout) still has the pretrained assets."""
    # Build from a copy of what the wheel is made of: setuptools builds in-tree and would
    # leave build/ in the checkout.
    source = tmp_path / "src"
    shutil.copytree(ROOT / "ganlab_solution", source / "ganlab_solution", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    result = subprocess.run([*pip_wheel, "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("ganlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "ganlab_solution"
    modules = {f"ganlab_solution/{path.relative_to(package).as_posix()}" for path in package.rglob("*.py")}
    assets = {f"ganlab_solution/assets/{path.name}" for path in (ROOT / "ganlab_solution" / "assets").iterdir()}
    assert "ganlab_solution/assets/fashionmnist_generator.onnx" in assets
    assert modules - names == set(), "modules missing from the wheel"
    assert assets - names == set(), "assets missing from the wheel"
    assert not any(name.startswith(("tests/", "bench/", "notebooks/")) for name in names)
