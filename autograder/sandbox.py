"""The grading sandbox: what a student's kernel can see, write, reach and spend.

Built with bubblewrap (``bwrap``: unprivileged user namespaces, no root, no daemon) in two layers:

- **One bwrap sandbox per grading run** holds the kernel zygote (``kernel_zygote.py``). Inside
  it the system (``/usr``, ``/etc``) and the Python environment are read-only, the course
  package is visible (only its own folder: not the repository around it), and nothing else of
  the machine exists: no course folder (``source/``, ``release/``, ``submitted/``,
  ``autograded/``, ``gradebook.db``, the grading kit), no home, no ``/tmp``. It has no network
  (not even the machine's loopback) and its own PID namespace, and dies with the grader.
- **One nested sandbox per kernel**, entered by each fork of the zygote (``enter_kernel``):
  new user, mount, PID, network, IPC and UTS namespaces, so kernels graded at the same time
  cannot see, signal or reach each other; a fresh size-limited tmpfs at ``/sandbox`` (HOME,
  TMPDIR, the working folder: the only place it can write); of the folder that carries the
  kernels' ZMQ sockets only its own subfolder; and resource limits (address space, processes,
  CPU seconds, file size) that make the offending cell fail, never the grader.

Without a zygote (``c.SafeExecute.fork_kernels = False``, or one that failed to start) each
kernel gets the same sandbox from one ``bwrap`` of its own (``kernel_argv``).

ZMQ over TCP cannot cross a network namespace, so the kernels speak ZMQ over ``ipc`` (Unix
socket files), in a folder bound into the sandbox at the same path as outside; the connection
file in it is bound read-only.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Where the sandbox's writable tmpfs is mounted, inside: HOME, TMPDIR and the working folder.
SCRATCH = "/sandbox"
# The environment a sandboxed kernel inherits from the grader (everything else is dropped:
# the grader's environment may hold tokens and paths).
PASSED_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONPATH",
    "NBGRADER_EXECUTION",
    "PYDEVD_DISABLE_FILE_VALIDATION",
)
# The zygote keeps its capabilities inside its own sandbox (a user namespace of bwrap's making, which
# gives no right outside it), so that each fork can build the kernel's namespaces and mounts.
ZYGOTE_CAPS = ["--cap-add", "ALL"]
ENV_VAR = "GANLAB_SANDBOX"  # the kernel's limits and folders (JSON), from the grader to the zygote's fork
FIX = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) and allow unprivileged user "
    "namespaces (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
    "`kernel.apparmor_restrict_unprivileged_userns=0`), or grade without a sandbox by setting "
    "`c.SafeExecute.sandbox = False` in autograder/nbgrader_config.py"
)


class SandboxUnavailable(RuntimeError):
    """This machine cannot build the sandbox (no bwrap, no user namespaces)."""


@dataclass(frozen=True)
class Limits:
    """What one kernel may spend. Each limit makes the offending call fail (MemoryError, OSError, SIGXCPU)."""

    scratch_mb: int = 512  # the tmpfs holding HOME, TMPDIR and the working folder (it counts as memory)
    memory_gb: float = 8.0  # address space per process (RLIMIT_AS): torch alone maps 4.4 GB
    processes: int = 256  # processes and threads of the kernel's user (RLIMIT_NPROC; not enforced for root)
    cpu_seconds: int = 1800  # CPU time per process (RLIMIT_CPU): a kernel past it is killed, costing one cell
    file_mb: int = 512  # largest file it may write (RLIMIT_FSIZE)


def _bwrap() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {FIX}")
    return path


def course_folders() -> list[str]:
    """The folders of the course packages (``ganlab.exercises.COURSE_PACKAGES``) that a kernel would import.

    Only those folders: an editable install's repository (notebooks, grading kit) stays invisible.
    First on the kernel's ``PYTHONPATH`` (it comes first on a kernel's ``sys.path``), then as this
    process finds them (site-packages, an editable install's finder).
    """
    from importlib.machinery import PathFinder

    from ganlab.exercises import COURSE_PACKAGES

    entries = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    folders = []
    for name in COURSE_PACKAGES:
        spec = PathFinder.find_spec(name, entries) if entries else None
        if spec is None:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
        if spec is not None and spec.submodule_search_locations:
            folders += [os.path.realpath(path) for path in spec.submodule_search_locations]
    return folders


def _python_folders() -> list[str]:
    """The Python installation and environment (prefixes, the interpreter's real folder, site-packages)."""
    import site
    import sysconfig

    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.add(str(Path(os.path.realpath(sys.executable)).parents[1]))
    candidates.update(sysconfig.get_paths().values())
    candidates.update(site.getsitepackages())
    return _outermost(path for path in candidates if path and os.path.isdir(path))


def _outermost(paths) -> list[str]:  # noqa: ANN001 (any iterable of paths)
    """The given folders without those inside another one of them (one bind covers both)."""
    kept: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths}):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def read_only_folders() -> list[str]:
    """The folders every sandbox shows read-only at their own path: the Python installation and the course packages."""
    return _outermost([*_python_folders(), *course_folders()])


def folders_under_tmp() -> list[str]:
    """Those of :func:`read_only_folders` below ``/tmp`` (a kit checked out there): a kernel's fresh ``/tmp`` would cover them."""
    return [folder for folder in read_only_folders() if folder.startswith("/tmp/")]


def _system_args() -> list[str]:
    """bwrap arguments of the read-only system: /usr, /etc, the merged-/usr links, /proc, /dev."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return [*args, "--proc", "/proc", "--dev", "/dev"]


def base_argv(writable: list[str], scratch_mb: int) -> list[str]:
    """The bwrap command line up to ``--``: system, Python and course read-only, ``writable`` bound as is.

    ``/sandbox`` (HOME, TMPDIR, the working folder) and ``/tmp`` are fresh tmpfs of ``scratch_mb``
    MB each; the ``writable`` folders (the kernels' socket folders) appear at their own path.
    """
    args = [_bwrap(), "--unshare-all", "--die-with-parent", *_system_args()]
    for tmpfs in (SCRATCH, "/tmp"):  # first: a folder bound below may live under /tmp
        args += ["--size", str(scratch_mb << 20), "--tmpfs", tmpfs]
    for folder in read_only_folders():
        args += ["--ro-bind", folder, folder]
    for sub in ("home", "tmp", "work"):
        args += ["--dir", f"{SCRATCH}/{sub}"]
    for folder in writable:
        args += ["--bind", folder, folder]
    return args


def kernel_env(env: dict[str, str], threads: int) -> dict[str, str]:
    """The environment of a sandboxed kernel: a few of the grader's variables, every per-user folder in /sandbox."""
    kept = {name: env[name] for name in PASSED_ENV if name in env}
    if threads > 0:
        kept["OMP_NUM_THREADS"] = kept["MKL_NUM_THREADS"] = str(threads)
    home = f"{SCRATCH}/home"
    kept.update(
        HOME=home, TMPDIR=f"{SCRATCH}/tmp", IPYTHONDIR=f"{home}/.ipython", MPLCONFIGDIR=f"{home}/.config/matplotlib",
        JUPYTER_CONFIG_DIR=f"{home}/.jupyter", JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
        JUPYTER_RUNTIME_DIR=f"{home}/.local/share/jupyter/runtime", XDG_CONFIG_HOME=f"{home}/.config",
        XDG_CACHE_HOME=f"{home}/.cache", XDG_DATA_HOME=f"{home}/.local/share", MPLBACKEND="agg",
        PYTHONNOUSERSITE="1", USER="student", LOGNAME="student",
    )  # fmt: skip
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return kept


def kernel_argv(folder: str, connection_file: str, limits: Limits, command: list[str]) -> list[str]:
    """A cold kernel's launch command: ``command`` inside a bwrap of its own, with ``limits`` applied.

    ``folder`` holds the connection file and the ZMQ socket files; it is bound at its own path
    (the connection file read-only) and is the only folder of the machine the kernel can write.
    util-linux's ``prlimit`` sets the limits inside, so the kit itself need not be visible there.
    """
    args = base_argv([folder], limits.scratch_mb)
    args += ["--ro-bind", connection_file, connection_file, "--chdir", f"{SCRATCH}/work", "--"]
    prlimit = [shutil.which("prlimit") or "/usr/bin/prlimit", f"--nproc={limits.processes}"]
    prlimit += [f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_mb << 20}", "--core=0", "--"]
    return [*args, *prlimit, *command]


def check_available() -> None:
    """Raise SandboxUnavailable, naming the cause and the fix, when bwrap cannot build a sandbox here.

    Tries what a zygote's fork does: inside a bwrap sandbox, new namespaces, then a nested user namespace.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    probe = (
        "import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"for flags in ({flags}, {CLONE_NEWUSER}):\n"
        "    if libc.unshare(flags) != 0:\n"
        "        sys.exit('nested namespaces: ' + os.strerror(ctypes.get_errno()))\n"
    )
    argv = [*base_argv([], 16), *ZYGOTE_CAPS, "--", sys.executable, "-S", "-c", probe]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailable(f"bubblewrap could not run ({error}): {FIX}") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise SandboxUnavailable(f"bubblewrap cannot build a sandbox on this machine ({said}): {FIX}")


# -- inside: the nested sandbox a zygote's fork enters, and the limits --------------------------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def _libc():  # noqa: ANN202
    return ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:  # noqa: ANN001
    enc = lambda text: None if text is None else text.encode()  # noqa: E731
    _call(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _kept_flags(path: str) -> int:
    """The mount flags of ``path``'s mount that a read-only remount must keep (bwrap's nosuid, nodev...)."""
    have = os.statvfs(path).f_flag
    flags = have & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for st_flag, ms_flag in ((1024, 1024), (2048, 2048), (4096, 1 << 21)):  # noatime, nodiratime, relatime
        if have & st_flag:
            flags |= ms_flag
    return flags


def apply_limits(limits: dict) -> None:
    """Set this process's resource limits (inherited by everything it starts).

    Not the address space: a kernel forked from the zygote inherits the zygote's large mappings
    (torch), so ``SafeExecute`` caps it once the kernel has started, before any student cell.
    """
    import resource

    def cap(kind: int, value: int) -> None:
        _soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_NPROC, int(limits["processes"]))
    cap(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    cap(resource.RLIMIT_FSIZE, int(limits["file_mb"]) << 20)
    cap(resource.RLIMIT_CORE, 0)


def enter_kernel(spec: dict) -> None:
    """In a fork of the zygote (single-threaded): become a kernel in a sandbox of its own.

    ``spec`` (``SafeExecute``'s, through the kernel's environment): ``limits`` (Limits as a dict),
    ``runtime`` (the folder of this kernel's connection file and sockets), ``connection_file``,
    ``hide`` (the zygote's folder, holding every kernel's runtime folder, the zygote's socket and
    its code) and ``keep`` (:func:`folders_under_tmp`, read-only folders the fresh ``/tmp`` must
    not cover). Returns in a new process, PID 1 of a new PID namespace, whose end ends
    every process it started; the calling process stays outside, waits for it and exits with
    its status (the zygote reports that to the shim).
    """
    libc = _libc()
    # The zygote holds capabilities in its sandbox's user namespace (``ZYGOTE_CAPS``): enough to
    # build this kernel's namespaces and mounts. The kernel gives them up below, before any
    # student code runs, by entering a user namespace of its own.
    _call(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    limits, runtime, hide = spec["limits"], spec["runtime"], spec["hide"]
    # A fresh scratch over the zygote's: HOME, TMPDIR (also seen as /tmp), the working folder.
    _mount(libc, "tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits['scratch_mb']}m,mode=0700")
    for sub in ("home", "tmp", "work", ".runtime"):
        os.mkdir(f"{SCRATCH}/{sub}")
    # Of the zygote's folder, only this kernel's runtime folder stays; of the zygote's /tmp, only
    # the read-only folders that live there (a kit checked out under /tmp). Each is kept aside,
    # everything is covered, then each is put back at its own path (the connection file names
    # the runtime's; Python imports the others from theirs).
    aside = [(runtime, f"{SCRATCH}/.runtime", 0)]
    aside += [(folder, f"{SCRATCH}/.keep{i}", MS_RDONLY) for i, folder in enumerate(spec.get("keep", ()))]
    for folder, hold, _ in aside:
        os.makedirs(hold, exist_ok=True)
        _mount(libc, folder, hold, None, MS_BIND | MS_REC)
    _mount(libc, f"{SCRATCH}/tmp", "/tmp", None, MS_BIND)
    if os.path.exists(hide):  # the zygote's folder was not under /tmp
        _mount(libc, "tmpfs", hide, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    for folder, hold, readonly in aside:
        os.makedirs(folder, exist_ok=True)
        _mount(libc, hold, folder, None, MS_BIND | MS_REC)
        if readonly:
            _mount(libc, None, folder, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(folder))
        _call(libc.umount2(hold.encode(), 2), "umount")  # MNT_DETACH
        os.rmdir(hold)
    connection = spec["connection_file"]
    _mount(libc, connection, connection, None, MS_BIND)
    _mount(libc, None, connection, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(connection))
    _mount(libc, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m")
    apply_limits(limits)
    child = os.fork()
    if child == 0:
        # PID 1 of its namespace, in a session of its own: kill(0) or killpg reach only its own processes.
        os.setsid()
        # Its own /proc: it sees its own processes only (not the zygote, not other kernels).
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        # Give up the zygote's capabilities: in a user namespace of its own, it owns none of
        # the namespaces and mounts above, so it can change none of them (nor remount anything).
        uid, gid = os.getuid(), os.getgid()
        _call(libc.unshare(CLONE_NEWUSER), "unshare")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
        # Killed when the waiting process outside dies (set after the credentials changed: that clears it).
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no other process of this user reads its memory or files
        return
    # The waiting process, outside: passes interrupts on; any other signal ends it, and so the kernel.
    signal.signal(signal.SIGINT, lambda _signum, _frame: os.kill(child, signal.SIGINT))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)
