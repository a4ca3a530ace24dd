"""Packaging: conda and pip environments agree (the student wheel is checked in test_student.py)."""

from __future__ import annotations

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .helpers import ROOT

# tomllib is Python 3.11+; pyproject still admits 3.10, where these checks are skipped.
tomllib = pytest.importorskip("tomllib")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_pip_lines() -> list[str]:
    return next(item["pip"] for item in ENVIRONMENT["dependencies"] if isinstance(item, dict))


def test_conda_python_satisfies_requires_python():
    python = next(item for item in ENVIRONMENT["dependencies"] if isinstance(item, str) and item.startswith("python="))
    version = python.split("=", 1)[1]
    assert version in SpecifierSet(PYPROJECT["requires-python"]), (python, PYPROJECT["requires-python"])


def test_conda_pins_fall_inside_the_pip_ranges():
    """environment.yml pins torch/torchvision; pyproject must accept exactly those versions."""
    extras = [line for extra in PYPROJECT["optional-dependencies"].values() for line in extra]
    known = {req.name.lower(): req for req in map(Requirement, PYPROJECT["dependencies"] + extras)}
    pinned = [Requirement(line) for line in conda_pip_lines() if not line.lstrip('-e "').startswith(".")]
    assert {req.name for req in pinned} >= {"torch", "torchvision"}
    for req in pinned:
        assert req.name.lower() in known, f"environment.yml installs {req.name}, which pyproject.toml does not list"
        (spec,) = req.specifier
        assert spec.operator == "==", f"environment.yml should pin {req.name} exactly, not {req.specifier}"
        assert known[req.name.lower()].specifier.contains(spec.version), (str(req), str(known[req.name.lower()]))


def test_conda_installs_the_student_package_with_existing_extras():
    """The cluster environment is the student's: the package without answers, with the course tools."""
    (line,) = [line for line in conda_pip_lines() if line.lstrip("-e ").strip("\"'").startswith(".[")]
    target = line.strip("\"'")
    assert not line.startswith("-e"), "students install the package, not an editable checkout"
    assert target == ".[course]" and "course" in PYPROJECT["optional-dependencies"], line
    assert not any("ganlab_solution" in entry for entry in conda_pip_lines())
