"""Grading kernels forked from a warm process (a *zygote*) instead of started cold.

The zygote imports torch, the course and what the notebooks import once, never runs a cell, and forks a fresh kernel
on request. The ipykernel spec runs this file as a *shim* that hands the zygote its arguments, environment, folder
and standard streams over a Unix socket and stands in for the kernel (signals passed on, exit status returned; a
killed shim takes its kernel with it). With no zygote to answer, the shim becomes an ordinary cold kernel.

Everything above ``# -- zygote`` must stay light: the shim imports only the standard library.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import time

import sandbox  # next to this file (standard library only)

ENV_VAR = "GANLAB_KERNEL_ZYGOTE"  # the zygote's socket path, in the environment of the kernel launch
HEADER = struct.Struct("!Q")  # length of the JSON request that follows the header
PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def shim(argv: list[str]) -> int:
    """The kernel process jupyter_client sees: asks the zygote for a fork and stands in for it."""
    path = os.environ.pop(ENV_VAR, "")
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(sock, [HEADER.pack(len(request))], [0, 1, 2])
        sock.sendall(request)
        reader = sock.makefile("rb")
        pid = json.loads(reader.readline())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        # No zygote (or a broken one): a cold ipykernel, in a bwrap of its own when sandboxed.
        spec = os.environ.get(sandbox.ENV_VAR)
        cold = json.loads(spec)["cold"] if spec else [sys.executable, "-m", "ipykernel_launcher", *argv]
        os.execv(cold[0], cold)

    def pass_on(signum: int, _frame: object) -> None:
        # The zygote signals the kernel: in the sandbox, the pid it gave is no pid of ours.
        try:
            sock.send(bytes([signum]))
        except OSError:
            pass

    for signum in PASSED_ON:
        signal.signal(signum, pass_on)
    line = reader.readline()
    if line:
        status = json.loads(line)["exit"]
        return status if status >= 0 else 128 - status
    # The zygote died (a cell may kill its kernel's parent): stand in for the kernel until it ends.
    while _running(pid):
        time.sleep(0.1)
    return 1


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (an exited one no reaper collects is a zombie: not running)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Zygote:
    """A running zygote (``Zygote.start()``), stopped by ``close()`` or when its parent exits."""

    def __init__(self, process, folder: str) -> None:  # noqa: ANN001 (a subprocess.Popen)
        self.process = process
        self.folder = folder
        self.path = os.path.join(folder, "zygote.sock")
        self.unimportable = ""  # what a fork met importing the ``check`` module of ``start`` ("" when it could)

    @classmethod
    def start(cls, make_env, sandboxed: bool, check: str = "") -> Zygote:  # noqa: ANN001
        """Start a zygote in the environment ``make_env(folder)``, ready once it preloaded :func:`preload_list`; when
        ``sandboxed``, in the sandbox, from a copy of the kit its forks do not see. A fork of it then tries to import
        ``check``, as a kernel would (:attr:`unimportable`)."""
        import shutil
        import tempfile
        import threading
        from subprocess import DEVNULL, PIPE, Popen

        folder = tempfile.mkdtemp(prefix="ganlab_zygote_")
        env = make_env(os.path.join(folder, "sandbox"))
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's import-time warning, once per zygote
        script, prefix = os.path.abspath(__file__), []
        env.pop(sandbox.ENV_VAR, None)
        if sandboxed:
            os.makedirs(os.path.join(folder, "kit"))
            os.makedirs(os.path.join(folder, "kernels"))
            for module in (script, os.path.abspath(sandbox.__file__)):
                shutil.copy(module, os.path.join(folder, "kit"))
            script = os.path.join(folder, "kit", os.path.basename(script))
            work = f"{sandbox.SCRATCH}/work"
            prefix = [*sandbox.base_argv([folder], 64), *sandbox.ZYGOTE_CAPS, "--chdir", work, "--"]
            env[sandbox.ENV_VAR] = json.dumps({"zygote": folder})
        checked, sock = (["--check", check] if check else []), os.path.join(folder, "zygote.sock")
        argv = [*prefix, sys.executable, script, "serve", sock, *checked, *preload_list()]
        process = Popen(argv, env=env, cwd=folder, stdin=DEVNULL, stdout=PIPE, text=True)
        zygote = cls(process, folder)
        # The first line it prints says it is ready; a timer stops a zygote that hangs while importing.
        timer = threading.Timer(300, process.kill)
        timer.start()
        try:
            line = process.stdout.readline()
            if line.startswith("unimportable "):
                zygote.unimportable = json.loads(line.split(" ", 1)[1])
                line = process.stdout.readline()
        finally:
            timer.cancel()
            process.stdout.close()
        if not line.startswith("ready"):
            zygote.close()
            said = f": {line.strip()}" if line.strip() else f" (exit code {process.poll()})"
            raise RuntimeError(f"the kernel zygote did not start{said}")
        return zygote

    def alive(self) -> bool:
        return self.process.poll() is None and os.path.exists(self.path)

    def close(self) -> None:
        """Stop the zygote (it kills the kernels it still has) and remove its folder."""
        import shutil
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# What every kernel imports whatever the notebooks say: IPython's kernel, and what a library imports at its first call.
KERNEL_MODULES = (
    "IPython",
    "ipykernel.ipkernel",
    "ipykernel.kernelapp",
    "ipykernel.debugger",  # imported by every kernel's initialisation (debugpy: 0.09 s)
    "matplotlib_inline.backend_inline",
    "onnx",
    "onnxscript",
    "torch.onnx._internal.exporter._core",  # torch.onnx.export(dynamo=True) imports it at its first call: 0.6 s
)
# Never preloaded, nor modules importing them at their top: onnxruntime starts a native thread, and a process
# with threads must not fork (a lock that thread holds stays locked in the child). Kernels import it in 0.03 s.
NOT_PRELOADED = ("onnxruntime",)
NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "ganlab")


def preload_list() -> list[str]:
    """What the zygote imports: the course packages, the notebooks' imports (``from a import b`` gives ``a`` and
    ``a.b``, which may be no module), :data:`KERNEL_MODULES`."""
    import ast
    import glob

    from ganlab import exercises as lab

    names = [*lab.COURSE_PACKAGES, *lab.CHECK_PACKAGES]
    for path in sorted(glob.glob(os.path.join(NOTEBOOKS, "*.ipynb"))):
        with open(path, encoding="utf-8") as handle:
            cells = [cell["source"] for cell in json.load(handle)["cells"] if cell["cell_type"] == "code"]
        for lines in ("".join(source).splitlines() for source in cells):
            try:  # IPython's magics and shell escapes are no Python
                tree = ast.parse("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    names += KERNEL_MODULES
    # Never the reference package, which the sandbox hides from kernels that need none; the others import it in 0.02 s.
    skipped = (*NOT_PRELOADED, lab.REFERENCE_PACKAGE)
    return [name for name in dict.fromkeys(names) if name and name.split(".")[0] not in skipped]


# -- zygote: everything below runs only in the zygote and its forks --------------------------


def preload(names: list[str]) -> list[str]:
    """Import ``names``; those that failed (a missing optional module only costs its kernel time)."""
    import importlib

    failed = []
    sys.modules.update(dict.fromkeys(NOT_PRELOADED))  # None: importing them raises ImportError, here only
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as error:
                if error.name != name:
                    failed.append(name)
            except Exception:  # noqa: BLE001 (any import error: the kernel meets it itself, if it needs the module)
                failed.append(name)
    finally:
        for name in NOT_PRELOADED:
            sys.modules.pop(name, None)
    return failed


def _run_kernel(request: dict, fds: list[int], keep_closed: list[socket.socket]) -> None:
    """In the fork: become the requested kernel; never returns into the zygote's loop."""
    code = 1
    try:
        for sock in keep_closed:
            sock.close()  # the zygote's sockets: a student's kernel must not be able to serve forks
        os.setsid()  # its own process group, which the zygote signals for the shim
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for signum in (*PASSED_ON, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        env = dict(request["env"])
        spec = env.pop(sandbox.ENV_VAR, None)
        if spec:  # a sandbox of its own, nested in the zygote's; from here on it runs as PID 1 of its namespace
            sandbox.enter_kernel(json.loads(spec))
            request["cwd"] = sandbox.SCRATCH + "/work"
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(request["cwd"])
        import importlib
        import tempfile

        tempfile.tempdir = None  # re-read TMPDIR (the kernel's sandbox)
        sys.path[0] = request["cwd"]  # `python -m` puts the working folder first
        importlib.invalidate_caches()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # forks must not share the zygote's global NumPy stream
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if "torch" in sys.modules and threads.isdigit() and int(threads) > 0:
            # OpenMP read OMP_NUM_THREADS when the zygote loaded it: the kernel's own setting wins.
            sys.modules["torch"].set_num_threads(int(threads))
        from ipykernel.kernelapp import IPKernelApp

        # parent_handle=1: no parent poller (it would end the kernel a second after the zygote died, blaming
        # whichever cell runs then) and no "Ctrl-C will not work" banner; a killed shim's kernel is killed instead.
        argv = [*request["argv"], "--IPKernelApp.parent_handle=1"]
        sys.argv = ["ipykernel_launcher", *argv]
        IPKernelApp.launch_instance(argv)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 (report, then leave: a fork must never fall back into the zygote loop)
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _import_error(name: str) -> str:
    """What a fork of this process met importing ``name`` ("" when it could): a kernel forked from here meets the same,
    at the cost of a fork, not of a Python that imports torch again."""
    import importlib

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        said = ""
        os.dup2(2, 1)  # what the import prints must not reach the grader, which reads our stdout
        try:
            importlib.import_module(name)
        except BaseException as error:  # noqa: BLE001 (whatever stops the import is the answer)
            said = f"{type(error).__name__}: {error}"
        os.write(write, said.splitlines()[0].encode()[:2000] if said else b"")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return said or (f"the import ended its process (exit code {code})" if code else "")


def serve(path: str, names: list[str], check: str = "") -> None:
    """The zygote: preload ``names`` (then report whether a fork imports ``check``), then fork a kernel for each shim
    that connects, until told to stop. It forks only kernels sandboxed as it is (``sandbox.ENV_VAR``): a shim it
    refuses starts its kernel cold."""
    import selectors

    sandboxed = bool(os.environ.pop(sandbox.ENV_VAR, ""))
    failed = preload(names)
    threads = len(os.listdir(f"/proc/{os.getpid()}/task")) if os.path.isdir("/proc") else 1
    if threads > 1:
        # Only the forking thread survives a fork: a lock another thread holds would never be released.
        print(f"not ready: preloading started {threads - 1} other thread(s), so forks could hang", flush=True)
        return
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    kernels: dict[int, socket.socket] = {}  # kernel pid -> its shim's connection
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the grader, which stops us itself
    unimportable = _import_error(check) if check else ""
    if unimportable:
        print("unimportable " + json.dumps(unimportable), flush=True)
    print("ready" + (" (not preloaded: " + ", ".join(failed) + ")" if failed else ""), flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # nobody reads our stdout after "ready"
    os.close(devnull)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while not stopping and os.getppid() == parent:
        for key, _ in selector.select(timeout=0.05):
            if key.fileobj is listener:
                _accept(listener, selector, kernels, sandboxed)
            else:  # a shim passes on a signal (one byte each), or closed: it was killed, so its kernel goes too
                pid = key.data
                try:
                    signals = key.fileobj.recv(64)
                except OSError:
                    signals = b""
                if signals:
                    for signum in signals:
                        _kill_group(pid, signum)
                    continue
                selector.unregister(key.fileobj)
                key.fileobj.close()
                kernels.pop(pid, None)
                _kill_group(pid)
        _reap(selector, kernels)
    for pid in list(kernels):
        _kill_group(pid)
    deadline = time.monotonic() + 5
    while kernels and time.monotonic() < deadline:
        _reap(selector, kernels)
        time.sleep(0.05)


def _accept(listener: socket.socket, selector, kernels: dict[int, socket.socket], sandboxed: bool) -> None:  # noqa: ANN001
    import selectors

    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)  # a client that connects and says nothing must not stall the zygote
        head, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        if len(head) != HEADER.size or len(fds) != 3:
            raise ValueError("malformed request")
        (size,) = HEADER.unpack(head)
        if size > 1 << 24:
            raise ValueError("request too large")
        body = conn.makefile("rb").read(size)
        if len(body) != size:
            raise ValueError("connection closed before the message ended")
        request = json.loads(body)
        if not (isinstance(request.get("argv"), list) and isinstance(request.get("env"), dict)):
            raise ValueError("malformed request")
        if bool(request["env"].get(sandbox.ENV_VAR)) != sandboxed:
            # A zygote in the sandbox holds capabilities there: it forks only kernels that enter their own.
            raise ValueError("a kernel whose sandbox is not the zygote's")
    except (OSError, ValueError, ConnectionError):
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(selector.fileno())
        _run_kernel(request, fds, [listener, conn, *kernels.values()])
    for fd in fds:
        os.close(fd)
    try:
        conn.settimeout(None)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:
        conn.close()
        _kill_group(pid)
        return
    kernels[pid] = conn
    selector.register(conn, selectors.EVENT_READ, pid)


def _reap(selector, kernels: dict[int, socket.socket]) -> None:  # noqa: ANN001
    """Collect every kernel that exited and tell its shim how."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kernels.pop(pid, None)
        if conn is None:
            continue
        selector.unregister(conn)
        try:
            conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        except OSError:
            pass
        conn.close()


def _kill_group(pid: int, signum: int = signal.SIGKILL) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signum)
            return
        except OSError:
            continue


if __name__ == "__main__":
    if sys.argv[1:2] == ["kernel"]:
        sys.exit(shim(sys.argv[2:]))
    if sys.argv[1:2] == ["serve"] and len(sys.argv) >= 3:
        rest = sys.argv[3:]
        checked = rest[1] if rest[:1] == ["--check"] and len(rest) > 1 else ""
        serve(sys.argv[2], rest[2:] if checked else rest, checked)
        sys.exit(0)
    sys.exit("usage: kernel_zygote.py serve SOCKET [--check MODULE] MODULE... | kernel -f CONNECTION_FILE")
