"""Every environment layout that runs Python runs grading (autograder/sandbox.py, ``read_only_folders``): the
reference answers of 01_data, graded by the real ``nbgrader autograde`` run by each layout's Python, get full marks;
a folder the sandbox does not show stops grading before anyone is graded, with one line naming the module, the
folder and the fix (safe_execute.py, ``require_sandbox``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import grading_round as gr  # autograder/ (on sys.path from conftest.py)
import pytest
import safe_execute
import sandbox

from .helpers import ROOT, run_in_safe_execute

pytestmark = [pytest.mark.slow, pytest.mark.grading, pytest.mark.xdist_group("env-layouts")]
NOTEBOOK = "01_data"
PURELIB = sysconfig.get_paths()["purelib"]  # this Python's site-packages: torch, nbgrader, the editable installs


def _venv(folder: Path, *options: str) -> tuple[Path, Path]:
    """A venv (without pip: quick) and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", *options, str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return python, Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())


def _copy_packages(folder: Path, *packages: str) -> Path:
    for package in packages:
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def layered_venv(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A venv whose packages live in a folder outside every prefix, named by a .pth file (as a layered venv's are:
    here a link to this Python's site-packages), with the course's editable installs of its own."""
    python, site = _venv(tmp_path / "venv")
    layer = tmp_path / "layer"
    layer.symlink_to(PURELIB)
    (site / "00_layer.pth").write_text(f"{layer}\n")  # before the editable installs' .pth files, which import from it
    for pth in Path(PURELIB).glob("__editable__.*.pth"):
        shutil.copy(pth, site)
    return python, ROOT / "ganlab"


def system_site_venv(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A venv with ``--system-site-packages``: everything comes from this Python's site-packages."""
    return _venv(tmp_path / "venv", "--system-site-packages")[0], ROOT / "ganlab"


def user_site(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """This Python with the student package installed by ``pip install --user --no-deps`` (found before the
    editable install: the user site comes first)."""
    env["PYTHONUSERBASE"] = str(tmp_path / "userbase")
    source = _copy_packages(tmp_path / "src", "ganlab")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    install = [sys.executable, "-m", "pip", "install", "-q", "--user", "--no-deps", "--no-build-isolation", str(source)]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (site,) = (tmp_path / "userbase").glob("lib/python*/site-packages")
    return Path(sys.executable), site / "ganlab"


def pythonpath(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """The course packages on PYTHONPATH only: a venv reaching this Python's site-packages by a plain .pth line,
    whose own .pth files (the editable installs) do not run."""
    python, site = _venv(tmp_path / "venv")
    (site / "00_layer.pth").write_text(f"{PURELIB}\n")
    env["PYTHONPATH"] = str(_copy_packages(tmp_path / "path", "ganlab", "ganlab_solution"))
    return python, tmp_path / "path" / "ganlab"


LAYOUTS = [layered_venv, system_site_venv, user_site, pythonpath]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch course with the real configuration, kernels started cold (no zygote preloading everything for one
    notebook), and the reference answers of 01_data submitted once per layout."""
    course = tmp_path_factory.mktemp("layouts") / "course"
    gr.make_course(course)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("c.SafeExecute.fork_kernels = False\n")
    gr.nbgrader(course, "generate_assignment", gr.ASSIGNMENT, "--notebook", NOTEBOOK, "--force")
    release = course / "release" / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for layout in LAYOUTS:
        gr.submit(course, layout.__name__, {NOTEBOOK: gr.fill(release, gr.reference_answers(NOTEBOOK))})
    return course


@pytest.mark.dataset
@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.__name__ for layout in LAYOUTS])
def test_each_layout_grades_the_reference_answers_in_full(course: Path, tmp_path: Path, layout) -> None:  # noqa: ANN001
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHONPATH", "PYTHONUSER"))}
    python, expected = layout(tmp_path, env)
    where = subprocess.run([str(python), "-c", "import ganlab; print(ganlab.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert Path(where.stdout.strip()).parent == expected, f"not the layout meant: {where.stdout}{where.stderr}"
    student = layout.__name__
    done = subprocess.run([str(python), "-m", "nbgrader", "autograde", gr.ASSIGNMENT, "--student", student, "--force"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = gr.read_result(course, student, NOTEBOOK)
    lost = {test: top - score for test, (score, top) in result.scores.items() if score < top}
    assert result.scores and not lost, f"lost {lost}: {result.errors}"


def test_a_folder_the_sandbox_does_not_show_stops_grading_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder,) = sandbox.course_folders(("ganlab",))
    shown = sandbox.read_only_folders
    monkeypatch.setattr(sandbox, "read_only_folders", lambda: [path for path in shown() if path != folder])
    safe_execute.require_sandbox.cache_clear()  # checked again, with this sandbox
    with pytest.raises(safe_execute.GradingEnvironmentError) as caught:
        run_in_safe_execute(tmp_path, ["print('student code ran')"])
    message = str(caught.value)
    assert message.startswith("a grading kernel cannot import ganlab in the sandbox (not found;"), message
    assert f"imports it from {folder}, which the sandbox hides" in message, message
    assert message.endswith("put its folder on PYTHONPATH, then grade again") and "\n" not in message


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader run as root runs its kernels as another user (nobody)")
def test_graded_as_root_a_folder_closed_to_other_users_stops_grading_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = _copy_packages(tmp_path / "closed", "ganlab", "ganlab_solution")
    closed.chmod(0o700)
    monkeypatch.setenv("PYTHONPATH", str(closed))
    safe_execute.require_sandbox.cache_clear()
    with pytest.raises(safe_execute.GradingEnvironmentError) as caught:
        run_in_safe_execute(tmp_path, ["print('student code ran')"])
    message = str(caught.value)
    assert message.startswith("a grading kernel cannot import ganlab in the sandbox"), message
    assert f"{closed} is not open to every user" in message and f"`chmod -R a+rX {closed}`" in message, message
