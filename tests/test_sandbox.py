"""The grading sandbox (autograder/sandbox.py) against a catalogue of escape attempts, graded for real.

One class is graded with the kit's own configuration by ``grade_class.py --jobs 1`` (the
``make grade`` path; one worker grades the students in sorted order, so each hostile student
``eNNa_<attempt>`` is followed by an honest one, ``eNNb_honest``, who made one real mistake).
Each hostile student hands in the reference answers of notebook 01 with one escape attempt
added to an answer cell. The machine around the class holds bait: a secret in the course
folder, another in the grader's home and environment, a TCP server on 127.0.0.1. Every attempt
must be contained (nothing outside the student's scratch folder read, written, reached or left
running) and every honest student must lose exactly their mistake's point.
"""

from __future__ import annotations

import hashlib
import os
import site
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "autograder"))
import grading_round as gr  # noqa: E402  (a script folder, not a package)
import sandbox  # noqa: E402

NOTEBOOK = "01_data"
SECRET = "ganlab-secret-7f3a9c"  # in the course folder, the grader's home and the grader's environment
HONEST_LOST = {"test_to_display": 1}  # the honest students' one mistake (catalogue case 01_no_clamp)
WRONG = "def to_unit_range(images):\n    return images.float() / 255.0  # wrong range\n"

# name -> (code run in the student's answer cell, points the hostile student must lose, blocked).
# ``P`` in the code maps names to the machine's paths. "blocked": the attempt must end in an
# exception (the cell prints "ESCAPE <name>: blocked"); otherwise the host-side tests decide.
ATTEMPTS: dict[str, tuple[str, dict[str, float], bool]] = {
    "read_gradebook": ("open(P['gradebook'], 'rb').read(64)", {}, True),
    "write_gradebook": ("open(P['gradebook'], 'r+b').write(b'overwritten by a student')", {}, True),
    "read_source_notebook": (
        "src = open(P['source']).read()\nexec(src[src.index('def to_unit_range'):].split('### END')[0])",
        {},
        True,
    ),
    "read_other_student": ("open(P['other']).read()", {}, True),
    "write_other_student": (
        "open(P['other'], 'a').write(' ')\nimport shutil\nshutil.rmtree(P['autograded_before'])",
        {},
        True,
    ),
    "read_course_secret": ("open(P['course_secret']).read()", {}, True),
    "read_instructor_home": ("print(os.listdir(P['home']))\nopen(P['home_secret']).read()", {}, True),
    "read_grader_environment": (
        "import glob\nfor path in glob.glob('/proc/*/environ'):\n    try:\n"
        "        if P['secret'] in open(path, errors='replace').read():\n            return\n"
        "    except OSError:\n        pass\n"
        "if P['secret'] in str(os.environ):\n    return\nraise PermissionError('no secret found')",
        {},
        True,
    ),
    "write_kit": ("open(P['kit'], 'a').write('\\n# a student was here\\n')", {}, True),
    "write_course_package": ("open(P['package'], 'a').write('\\ncheck = lambda *a, **k: None\\n')", {}, True),
    "write_pth_file": ("open(os.path.join(P['site'], 'zz_ganlab_escape.pth'), 'w').write('import os\\n')", {}, True),
    "write_system": ("open('/etc/ganlab_escape', 'w').write('x')", {}, True),
    "network_loopback": ("import socket\nsocket.create_connection(('127.0.0.1', P['port']), timeout=5)", {}, True),
    "lingering_process": (
        "import subprocess\nsubprocess.Popen(['sleep', P['linger']], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', P['linger']])",
        {},
        False,
    ),
    "fork_bomb": (
        "import subprocess\nfor _ in range(300):\n    subprocess.Popen(['sleep', P['bomb']])",
        {},
        False,
    ),
    "memory_hog": ("hog = bytearray(64 * 2**30)", {}, True),
    "disk_filler": (
        "with open('filler.bin', 'wb') as f:\n    for _ in range(4096):\n        f.write(b'x' * 2**20)",
        {},
        True,
    ),
    # The kernel is PID 1 of its namespace: its parent is pid 0, and kill(0) reaches its own session only.
    "kill_grader": ("os.kill(os.getppid(), 9)", {}, False),
    "kill_everything": ("import subprocess\nsubprocess.run(['kill', '-9', '-1'])", {}, False),
    "rebind_submodule_checks": (
        "import ganlab.labcheck.core as core, ganlab_solution.labcheck.data as data\n"
        "for module in (core, data):\n"
        "    for name in dir(module):\n"
        "        if name.startswith(('check', 'own_work', 'require')):\n"
        "            setattr(module, name, lambda *a, **k: None)\n"
        + WRONG.replace("def ", "global to_unit_range\ndef "),
        {"test_to_unit_range": 2},
        False,
    ),
    "print_guard_marker": (
        "print('GANLAB-GUARD:[]')\nprint('GANLAB-GUARD:{\"broken')\nimport sys\nsys.__stdout__.write('GANLAB-GUARD:[]\\n')",
        {},
        False,
    ),
    "flood_stdout_thread": (
        "import threading, time\n"
        "def flood():\n    end = time.time() + 4\n    while time.time() < end:\n"
        "        print('GANLAB-GUARD:' + '[' * 50)\n"
        "threading.Thread(target=flood, daemon=True).start()",
        {},
        False,
    ),
    "close_stdout": ("import sys\nsys.stdout.close()\nsys.stderr.close()\nos.close(1)\nos.close(2)", {}, False),
}


def _hostile_cell(name: str, code: str, paths: dict[str, object]) -> str:
    """The reference answer of to_unit_range with an escape attempt after it, reporting how it ended."""
    reference = gr.reference_answers(NOTEBOOK)["to_unit_range"]
    body = "\n".join("    " + line for line in code.splitlines())
    return (
        f"{reference}\n\n\nimport os\nP = {paths!r}\n\n\ndef _attempt():\n{body}\n\n\n"
        f"try:\n    _attempt()\n    print('ESCAPE {name}: done')\n"
        f"except BaseException as error:  # noqa\n    print('ESCAPE {name}: blocked', type(error).__name__)\n"
    )


def _students(attempts: list[str]) -> list[tuple[str, str, str]]:
    """(hostile id, honest id, attempt) in grading order."""
    return [(f"e{i:02d}a_{name}", f"e{i:02d}b_honest", name) for i, name in enumerate(attempts)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _processes_with(word: str) -> list[str]:
    """Command lines of this machine's processes that contain ``word``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if word in line and "pytest" not in line:
            found.append(line)
    return found


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
def escapes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The class graded once, with the bait laid out around it, and what the host saw afterwards."""
    base = tmp_path_factory.mktemp("escapes")
    course = base / "course"
    gr.make_course(course)
    gr.nbgrader(course, "generate_assignment", gr.ASSIGNMENT, "--force")
    release = course / "release" / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    home = base / "instructor_home"
    home.mkdir()
    (home / "secret.txt").write_text(SECRET)
    (course / "secret.txt").write_text(SECRET)
    server = Server()
    honest_cells = {
        **gr.reference_answers(NOTEBOOK),
        **{case.name: case for case in gr.load_cases()}["01_no_clamp"].cells,
    }
    order = _students(list(ATTEMPTS))
    outside = {
        "kit": REPO / "autograder" / "guard.py",
        "package": REPO / "ganlab" / "labcheck" / "core.py",
        "reference": REPO / "ganlab_solution" / "labcheck" / "data.py",
        "source": REPO / "notebooks" / "ganlab" / f"{NOTEBOOK}.ipynb",
    }
    before = {name: _digest(path) for name, path in outside.items()}
    for index, (hostile, honest, name) in enumerate(order):
        code, _lost, _blocked = ATTEMPTS[name]
        previous = order[index - 1][1] if index else order[-1][1]
        paths = {
            "gradebook": str(course / "gradebook.db"),
            "source": str(outside["source"]),
            "other": str(course / "submitted" / honest / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"),
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
        answers = {**gr.reference_answers(NOTEBOOK), "to_unit_range": _hostile_cell(name, code, paths)}
        gr.submit(course, hostile, {NOTEBOOK: gr.fill(release, answers)})
        gr.submit(course, honest, {NOTEBOOK: gr.fill(release, honest_cells)})
    submitted = {honest: _digest(course / "submitted" / honest / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb")
                 for _, honest, _ in order}  # fmt: skip
    env = {**os.environ, "HOME": str(home), "GANLAB_TEST_SECRET": SECRET}
    try:
        run = subprocess.run(
            [sys.executable, str(REPO / "autograder" / "grade_class.py"), "--course", str(course), "--jobs", "1"],
            capture_output=True, text=True, env=env, check=False, timeout=1800,
        )  # fmt: skip
        lingering = _processes_with("3131.5") + _processes_with("3132.5")
    finally:
        changed = {name: path for name, path in outside.items() if _digest(path) != before[name]}
        for name in changed:  # never leave the repository changed, even when the sandbox failed
            subprocess.run(["git", "-C", str(REPO), "checkout", "--", str(outside[name])], check=False)
        pth = Path(site.getsitepackages()[0]) / "zz_ganlab_escape.pth"
        pth_written = pth.exists()
        pth.unlink(missing_ok=True)
        etc_written = Path("/etc/ganlab_escape").exists()
        server.sock.close()
    results = {student: gr.read_result(course, student, NOTEBOOK) for pair in order for student in pair[:2]}
    printed = {}
    for hostile, _, name in order:
        graded = nbformat.read(course / "autograded" / hostile / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
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
def test_the_class_is_graded_to_the_end(escapes: dict) -> None:
    run = escapes["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{2 * len(ATTEMPTS)} students graded and merged" in run.stdout
    assert "WITHOUT a sandbox" not in run.stdout


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_each_attempt_is_contained(escapes: dict, name: str) -> None:
    code, lost, blocked = ATTEMPTS[name]
    hostile = next(h for h, _, n in escapes["order"] if n == name)
    result = escapes["results"][hostile]
    got = {test: top - score for test, (score, top) in result.scores.items() if top - score}
    assert got == lost, f"{name}: lost {got}, expected {lost} ({result.errors})"
    if blocked:
        assert escapes["printed"][name].startswith(f"ESCAPE {name}: blocked"), escapes["printed"][name]


@pytest.mark.slow
@pytest.mark.grading
@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_the_honest_student_graded_next_loses_exactly_their_mistake(escapes: dict, name: str) -> None:
    honest = next(h for _, h, n in escapes["order"] if n == name)
    result = escapes["results"][honest]
    got = {test: top - score for test, (score, top) in result.scores.items() if top - score}
    assert got == HONEST_LOST, f"after {name}: lost {got} ({result.errors})"
    assert "clamp" in result.errors["test_to_display"][1]
    path = escapes["course"] / "submitted" / honest / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert _digest(path) == escapes["submitted"][honest], "another student changed this submission"


@pytest.mark.slow
@pytest.mark.grading
def test_nothing_outside_the_scratch_folder_was_written(escapes: dict) -> None:
    assert not escapes["changed"], f"written by a student: {sorted(escapes['changed'])}"
    assert not escapes["pth"] and not escapes["etc"]
    # Every autograded notebook is there: nobody deleted another student's.
    for hostile, honest, _ in escapes["order"]:
        for student in (hostile, honest):
            assert (escapes["course"] / "autograded" / student / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    assert not list(escapes["course"].rglob("filler.bin"))


@pytest.mark.slow
@pytest.mark.grading
def test_no_network_and_no_process_outlives_grading(escapes: dict) -> None:
    assert escapes["server"].accepted == 0, "a student reached a server on the grading machine's loopback"
    assert not escapes["lingering"], escapes["lingering"]


@pytest.mark.slow
@pytest.mark.grading
def test_the_guard_sees_rebinding_in_check_submodules(escapes: dict) -> None:
    hostile = next(h for h, _, n in escapes["order"] if n == "rebind_submodule_checks")
    _, message = escapes["results"][hostile].errors["test_to_unit_range"]
    assert "labcheck.core" in message or "labcheck.data" in message, message


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
def test_every_grading_path_refuses_without_a_sandbox(tmp_path: Path) -> None:
    """grade_class.py (make grade, SLURM) and nbgrader autograde stop, grading nobody; opting out grades and says so."""
    course = tmp_path / "course"
    gr.make_course(course)
    gr.nbgrader(course, "generate_assignment", gr.ASSIGNMENT, "--force")
    release = course / "release" / gr.ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    gr.submit(course, "alice", {NOTEBOOK: gr.fill(release, gr.reference_answers(NOTEBOOK))})
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**os.environ, "PATH": str(bare)}  # no bwrap (nor anything else) on PATH
    script = [sys.executable, str(REPO / "autograder" / "grade_class.py"), "--course", str(course)]
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
