"""The grading sandbox (autograder/sandbox.py) against a catalogue of escape attempts, graded for real:
``grade_class.py --jobs 1`` grades one student ``eNN_<attempt>`` per attempt, then an honest ``eNN_honest``. Every
student makes the same one mistake, so each is also the proof that the attempt before left nothing behind (no
check silenced, no grade forged). Bait: a secret in the course folder, the grader's home and environment, a
server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import site
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import grading_round as gr  # autograder/ (on sys.path from conftest.py)
import nbformat
import pytest
import sandbox

from .helpers import AUTOGRADER, ROOT

NOTEBOOK = "01_data"
SECRET = "ganlab-secret-7f3a9c"  # in the course folder, the grader's home and the grader's environment
MISTAKE = {"test_to_display": 1}  # every student's one mistake (catalogue case 01_no_clamp)
WRONG = "def to_unit_range(images):\n    return images.float() / 255.0  # wrong range\n"

# name -> code run in the student's answer cell; ``P`` in the code maps names to the machine's paths. An
# attempt must end in an exception (the cell prints "ESCAPE <name>: blocked"), but for UNBLOCKED ones,
# which the host-side tests judge; it costs its student no point but the mistake's and LOST's.
ATTEMPTS: dict[str, str] = {
    "read_gradebook": "open(P['gradebook'], 'rb').read(64)",
    "write_gradebook": "open(P['gradebook'], 'r+b').write(b'overwritten by a student')",
    "read_source_notebook": (
        "src = open(P['source']).read()\nexec(src[src.index('def to_unit_range'):].split('### END')[0])"
    ),
    "read_other_student": "open(P['other']).read()",
    "write_other_student": "open(P['other'], 'a').write(' ')\nimport shutil\nshutil.rmtree(P['autograded_before'])",
    "read_course_secret": "open(P['course_secret']).read()",
    "read_instructor_home": "print(os.listdir(P['home']))\nopen(P['home_secret']).read()",
    "read_grader_environment": (
        "import glob\nfor path in glob.glob('/proc/*/environ'):\n    try:\n"
        "        if P['secret'] in open(path, errors='replace').read():\n            return\n"
        "    except OSError:\n        pass\n"
        "if P['secret'] in str(os.environ):\n    return\nraise PermissionError('no secret found')"
    ),
    "write_kit": "open(P['kit'], 'a').write('\\n# a student was here\\n')",
    "write_course_package": "open(P['package'], 'a').write('\\ncheck = lambda *a, **k: None\\n')",
    "write_pth_file": "open(os.path.join(P['site'], 'zz_ganlab_escape.pth'), 'w').write('import os\\n')",
    "write_system": "open('/etc/ganlab_escape', 'w').write('x')",
    # Files in the kernel's home that later kernels would read at their start (each kernel has a fresh home): an
    # IPython startup file that ends every later kernel, and a Matplotlib configuration with no usable backend.
    "write_startup_files": (
        "startup = get_ipython().profile_dir.startup_dir\nos.makedirs(startup, exist_ok=True)\n"
        "open(os.path.join(startup, '00_end_kernel.py'), 'w').write('import os\\nos._exit(3)\\n')\n"
        "config = os.path.expanduser('~/.config/matplotlib')\nos.makedirs(config, exist_ok=True)\n"
        "open(os.path.join(config, 'matplotlibrc'), 'w').write('backend: nonexistent\\n')"
    ),
    "network_loopback": "import socket\nsocket.create_connection(('127.0.0.1', P['port']), timeout=5)",
    "lingering_process": (
        "import subprocess\nsubprocess.Popen(['sleep', P['linger']], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', P['linger']])"
    ),
    "fork_bomb": "import subprocess\nfor _ in range(300):\n    subprocess.Popen(['sleep', P['bomb']])",
    "memory_hog": "hog = bytearray(64 * 2**30)",
    "disk_filler": "with open('filler.bin', 'wb') as f:\n    for _ in range(4096):\n        f.write(b'x' * 2**20)",
    # The kernel is PID 1 of its namespace: its parent is pid 0, and kill(0) reaches its own session only.
    "kill_grader": "os.kill(os.getppid(), 9)",
    "kill_everything": "import subprocess\nsubprocess.run(['kill', '-9', '-1'])",
    # The checks made no-ops (the reference's too, where the kernel can import them: not 01_data's) and the
    # guard silenced, then a wrong answer: only the grader's own verdict (judge.py) still fails it.
    "rebind_submodule_checks": (
        "import importlib, sys\n"
        "sys.modules['__ganlab_guard__'].verify = lambda: []\n"
        "for package in ('ganlab.labcheck', 'ganlab.labcheck.core', 'ganlab.labcheck.visible',\n"
        "                'ganlab_solution.labcheck.data'):\n"
        "    try:\n        module = importlib.import_module(package)\n    except ImportError:\n        continue\n"
        "    for name in dir(module):\n"
        "        if name.startswith(('check', 'own_work', 'require')):\n"
        "            setattr(module, name, lambda *a, **k: None)\n"
        + WRONG.replace("def ", "global to_unit_range\ndef ")
    ),
    "print_guard_marker": (
        "print('GANLAB-GUARD:[]')\nprint('GANLAB-GUARD:{\"broken')\n"
        "import sys\nsys.__stdout__.write('GANLAB-GUARD:[]\\n')"
    ),
    "flood_stdout_thread": (
        "import threading, time\n"
        "def flood():\n    end = time.time() + 4\n    while time.time() < end:\n"
        "        print('GANLAB-GUARD:' + '[' * 50)\n"
        "threading.Thread(target=flood, daemon=True).start()"
    ),
    "close_stdout": "import sys\nsys.stdout.close()\nsys.stderr.close()\nos.close(1)\nos.close(2)",
}
UNBLOCKED = {"lingering_process", "kill_grader", "kill_everything", "rebind_submodule_checks", "write_startup_files"}
UNBLOCKED |= {"print_guard_marker", "flood_stdout_thread", "close_stdout"}
LOST = {"rebind_submodule_checks": {"test_to_unit_range": 2}}


def _hostile_cell(name: str, code: str, paths: dict[str, object]) -> str:
    """The reference answer of to_unit_range with an escape attempt after it, reporting how it ended."""
    reference = gr.reference_answers(NOTEBOOK)["to_unit_range"]
    body = "\n".join("    " + line for line in code.splitlines())
    return (
        f"{reference}\n\n\nimport os\nP = {paths!r}\n\n\ndef _attempt():\n{body}\n\n\n"
        f"try:\n    _attempt()\n    print('ESCAPE {name}: done')\n"
        f"except BaseException as error:  # noqa\n    print('ESCAPE {name}: blocked', type(error).__name__)\n"
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _processes_with(word: str) -> list[str]:
    """Command lines of this machine's processes (but pytest's) that contain ``word``."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return [line for line in lines if word in line and "pytest" not in line]


class Server:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture(scope="module")
def escapes(released: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The class graded once, with the bait laid out around it, and what the host saw afterwards."""
    base = tmp_path_factory.mktemp("escapes")
    course = released(base / "course")
    release = course / "release" / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    home = base / "instructor_home"
    home.mkdir()
    (home / "secret.txt").write_text(SECRET)
    (course / "secret.txt").write_text(SECRET)
    server = Server()
    no_clamp = next(case for case in gr.load_cases() if case.name == "01_no_clamp")
    honest_cells = {**gr.reference_answers(NOTEBOOK), **no_clamp.cells}
    # Grading order: each attempt's student, then the honest one; None: no attempt.
    order = [(f"e{i:02d}_{name}", name) for i, name in enumerate(ATTEMPTS)] + [(f"e{len(ATTEMPTS):02d}_honest", None)]
    outside = {
        "kit": AUTOGRADER / "guard.py",
        "package": ROOT / "ganlab" / "labcheck" / "core.py",
        "reference": ROOT / "ganlab_solution" / "labcheck" / "data.py",
        "source": ROOT / "notebooks" / "ganlab" / f"{NOTEBOOK}.ipynb",
    }
    before = {name: _digest(path) for name, path in outside.items()}
    for index, (student, name) in enumerate(order):
        if name is None:
            gr.submit(course, student, {NOTEBOOK: gr.fill(release, honest_cells)})
            continue
        following, previous = order[index + 1][0], order[index - 1][0]
        paths = {
            "gradebook": str(course / "gradebook.db"),
            "source": str(outside["source"]),
            "other": str(course / "submitted" / following / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"),
            "autograded_before": str(course / "autograded" / previous),
            "course_secret": str(course / "secret.txt"),
            "home": str(home),
            "home_secret": str(home / "secret.txt"),
            "secret": SECRET,
            "kit": str(outside["kit"]),
            "package": str(outside["package"]),
            "site": site.getsitepackages()[0],
            "port": server.port,
            "linger": "3131.5",
            "bomb": "3132.5",
        }
        answers = {**honest_cells, "to_unit_range": _hostile_cell(name, ATTEMPTS[name], paths)}
        gr.submit(course, student, {NOTEBOOK: gr.fill(release, answers)})
    submitted = {student: _digest(course / "submitted" / student / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb")
                 for student, _ in order}  # fmt: skip
    env = {**os.environ, "HOME": str(home), "GANLAB_TEST_SECRET": SECRET}
    try:
        run = subprocess.run(
            [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(course), "--jobs", "1"],
            capture_output=True, text=True, env=env, check=False, timeout=1800,
        )  # fmt: skip
        lingering = _processes_with("3131.5") + _processes_with("3132.5")
    finally:
        changed = {name: path for name, path in outside.items() if _digest(path) != before[name]}
        for name in changed:  # never leave the repository changed, even when the sandbox failed
            subprocess.run(["git", "-C", str(ROOT), "checkout", "--", str(outside[name])], check=False)
        pth = Path(site.getsitepackages()[0]) / "zz_ganlab_escape.pth"
        pth_written = pth.exists()
        pth.unlink(missing_ok=True)
        etc_written = Path("/etc/ganlab_escape").exists()
        server.sock.close()
    results = {student: gr.read_result(course, student, NOTEBOOK) for student, _ in order}
    printed = {}
    for student, name in order[:-1]:
        graded = nbformat.read(course / "autograded" / student / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
        printed[name] = next((line for line in text.splitlines() if line.startswith(f"ESCAPE {name}:")), "")
    return {
        "run": run, "course": course, "order": order, "results": results, "printed": printed,
        "changed": changed, "pth": pth_written, "etc": etc_written, "server": server, "lingering": lingering,
        "submitted": submitted,
    }  # fmt: skip


def test_the_catalogue_is_complete() -> None:
    assert len(ATTEMPTS) >= 15


@pytest.mark.slow
@pytest.mark.grading
def test_the_class_is_graded_to_the_end_and_nothing_outside_the_scratch_folder_changed(escapes: dict) -> None:
    run = escapes["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{len(ATTEMPTS) + 1} students graded and merged" in run.stdout
    assert "WITHOUT a sandbox" not in run.stdout
    assert not escapes["changed"], f"written by a student: {sorted(escapes['changed'])}"
    assert not escapes["pth"] and not escapes["etc"]
    # Every autograded notebook is there: nobody deleted another student's.
    for student, _ in escapes["order"]:
        assert (escapes["course"] / "autograded" / student / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    assert not list(escapes["course"].rglob("filler.bin"))
    assert escapes["server"].accepted == 0, "a student reached a server on the grading machine's loopback"
    assert not escapes["lingering"], escapes["lingering"]


def _lost(result: gr.Result) -> dict[str, float]:
    return {test: top - score for test, (score, top) in result.scores.items() if top - score}


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_each_attempt_is_contained_and_the_next_student_loses_exactly_their_mistake(escapes: dict, name: str) -> None:
    index = next(i for i, (_, attempt) in enumerate(escapes["order"]) if attempt == name)
    (student, _), (following, after) = escapes["order"][index : index + 2]
    result = escapes["results"][student]
    assert _lost(result) == {**MISTAKE, **LOST.get(name, {})}, f"{name}: lost {_lost(result)} ({result.errors})"
    if name not in UNBLOCKED:
        assert escapes["printed"][name].startswith(f"ESCAPE {name}: blocked"), escapes["printed"][name]
    if name == "fork_bomb":  # at the process limit (EAGAIN), as root too: the kernel is nobody there
        assert escapes["printed"][name].endswith("BlockingIOError"), escapes["printed"][name]
    if name == "rebind_submodule_checks":  # the guard silenced too: the grader's own comparison fails it
        message = result.errors["test_to_unit_range"][1]
        assert "256 pixel values" in message and "127.5" in message, message
    # The next student, graded in the kernels and the gradebook this attempt ran against, is judged as usual.
    result = escapes["results"][following]
    assert _lost(result) == {**MISTAKE, **LOST.get(after, {})}, f"after {name}: lost {_lost(result)} ({result.errors})"
    assert "clamp" in result.errors["test_to_display"][1]
    path = escapes["course"] / "submitted" / following / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert _digest(path) == escapes["submitted"][following], "another student changed this submission"


@pytest.mark.grading
def test_a_kernel_meets_its_process_limit_whoever_grades(tmp_path: Path) -> None:
    """In a cold kernel's sandbox (a zygote's fork enters the same, sandbox.enter_kernel) the kernel runs as the
    grader's user, or as nobody when the grader is root (whom RLIMIT_NPROC exempts), and cannot pass its limit."""
    connection = tmp_path / "kernel.json"
    connection.touch()
    code = (
        "import os, subprocess\nprint(os.getuid())\nstarted = []\ntry:\n    while len(started) < 40:\n"
        "        started.append(subprocess.Popen(['sleep', '30']))\nexcept BlockingIOError:\n    print('stopped')"
    )
    argv = sandbox.kernel_argv(
        str(tmp_path), str(connection), sandbox.Limits(processes=20), [sys.executable, "-c", code]
    )
    done = subprocess.run(
        argv, env=sandbox.kernel_env(dict(os.environ), 1), capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == [str(sandbox.KERNEL_UID if os.geteuid() == 0 else os.geteuid()), "stopped"], done


def test_a_machine_without_bwrap_stops_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No bwrap on PATH: the sandbox check names the cause and both fixes."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(sandbox.SandboxUnavailable) as caught:
        sandbox.check_available()
    message = str(caught.value)
    assert "bubblewrap (bwrap) is not installed" in message and "apt-get install bubblewrap" in message
    assert "c.SafeExecute.sandbox = False" in message and "\n" not in message


@pytest.mark.slow
@pytest.mark.grading
def test_every_grading_path_refuses_without_a_sandbox(released: Callable[[Path], Path], tmp_path: Path) -> None:
    """grade_class.py (make grade, SLURM) and nbgrader autograde stop, grading nobody; opting out grades and says so."""
    course = released(tmp_path / "course")
    release = course / "release" / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    gr.submit(course, "alice", {NOTEBOOK: gr.fill(release, gr.reference_answers(NOTEBOOK))})
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**os.environ, "PATH": str(bare)}  # no bwrap (nor anything else) on PATH
    script = [sys.executable, str(AUTOGRADER / "grade_class.py"), "--course", str(course)]
    for args in (["--jobs", "1"], ["--shard", "0/1"]):
        done = subprocess.run([*script, *args], capture_output=True, text=True, env=env, check=False)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and lines[-1].startswith("error: no grading sandbox, so nobody was graded")
        assert "c.SafeExecute.sandbox = False" in lines[-1]
    nbgrader = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", gr.ASSIGNMENT], cwd=course, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert nbgrader.returncode != 0
    assert "no grading sandbox, so nobody was graded" in nbgrader.stdout + nbgrader.stderr
    assert not (course / "autograded" / "alice").exists() or not list((course / "autograded").rglob("*.ipynb"))
    # The instructor opts out explicitly: graded, and the report says it was without a sandbox.
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("c.SafeExecute.sandbox = False\n")
    done = subprocess.run([*script, "--jobs", "1"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "graded WITHOUT a sandbox" in done.stdout
    assert sum(score for score, _ in gr.read_result(course, "alice", NOTEBOOK).scores.values()) > 0


def test_the_guard_verdict_is_read_from_the_reply_not_from_printed_text() -> None:
    """guard.parse takes the kernel's record of the VERIFY expression; anything else means the guard is broken."""
    import guard

    assert guard.parse({"status": "ok", "data": {"text/plain": repr('["labcheck.core.check"]')}}) == [
        "labcheck.core.check"
    ]
    assert guard.parse({"status": "ok", "data": {"text/plain": repr("[]")}}) == []
    for broken in (None, {}, {"status": "error", "ename": "NameError"}, {"status": "ok", "data": {"text/plain": "[["}},
                   {"status": "ok", "data": {"text/plain": repr('{"a": 1}')}}):  # fmt: skip
        assert guard.parse(broken) is None
    assert "print" not in guard.VERIFY
    assert {"ganlab.labcheck", "ganlab_solution.labcheck"} <= set(guard.CHECK_PACKAGES)


def test_the_guard_names_and_puts_back_what_a_student_rebound() -> None:
    """The guard's kernel side, run here as a kernel runs it (setup_code, then VERIFY): no kernel needed."""
    import types

    import guard
    import numpy
    import torch

    from ganlab import labcheck
    from ganlab.labcheck import core

    namespace: dict = {"labcheck": labcheck, "torch": torch}
    namespace["get_ipython"] = lambda: types.SimpleNamespace(user_ns=namespace)
    allclose, body = torch.allclose, core.check.__code__
    try:
        exec(guard.setup_code(), namespace)  # what SafeExecute sends before the student's first cell
        assert "__ganlab_guard" not in namespace, "the set-up left a name in the student's namespace"
        verdict = lambda: guard.parse({"status": "ok", "data": {"text/plain": repr(eval(guard.VERIFY))}})  # noqa: E731
        assert verdict() == []
        torch.allclose = lambda *a, **k: True
        core.check.__code__ = (lambda *a, **k: None).__code__
        namespace["torch"] = numpy
        changed = verdict()
        assert {"torch.allclose", "the body of labcheck.core.check", "the name torch"} <= set(changed), changed
        assert torch.allclose is allclose and core.check.__code__ is body and namespace["torch"] is torch
        assert verdict() == []
    finally:
        torch.allclose, core.check.__code__ = allclose, body
        sys.modules.pop("__ganlab_guard__", None)
