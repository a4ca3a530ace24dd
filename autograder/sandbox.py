"""The grading sandbox (bubblewrap): what a student's kernel can see, write, reach and spend.

Two layers: one bwrap sandbox per grading run holds the kernel zygote (``base_argv``), and each
fork enters a nested sandbox of its own (``enter_kernel``); without a zygote a kernel gets the
same from one bwrap of its own (``kernel_argv``). README.md, "Isolation", lists what each layer
guarantees and how.
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
PASSED_ENV = "PATH LANG LC_ALL LC_CTYPE TZ PYTHONPATH NBGRADER_EXECUTION PYDEVD_DISABLE_FILE_VALIDATION".split()
# Each per-user folder a kernel gets, inside its scratch folder: nothing of anyone's home is read.
USER_FOLDERS = {
    "HOME": "home",
    "IPYTHONDIR": "home/.ipython",
    "MPLCONFIGDIR": "home/.config/matplotlib",
    "JUPYTER_CONFIG_DIR": "home/.jupyter",
    "JUPYTER_DATA_DIR": "home/.local/share/jupyter",
    "JUPYTER_RUNTIME_DIR": "home/.local/share/jupyter/runtime",
    "XDG_CONFIG_HOME": "home/.config",
    "XDG_CACHE_HOME": "home/.cache",
    "XDG_DATA_HOME": "home/.local/share",
    "TMPDIR": "tmp",
}
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


def course_folders() -> list[str]:
    """The folders of the course packages (``ganlab.exercises.COURSE_PACKAGES``) that a kernel would import, and only
    those (an editable install's repository, notebooks and grading kit, stays invisible). Looked up first on
    ``PYTHONPATH`` (first on a kernel's ``sys.path``), then as this process finds them."""
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


def _outermost(paths) -> list[str]:  # noqa: ANN001 (any iterable of paths)
    """The given folders without those inside another one of them (one bind covers both)."""
    kept: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths}):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def read_only_folders() -> list[str]:
    """The folders every sandbox shows read-only at their own path: the Python installation and the course packages."""
    import site
    import sysconfig

    # The prefixes, the interpreter's real folder, site-packages.
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    python |= {str(Path(os.path.realpath(sys.executable)).parents[1]), *sysconfig.get_paths().values()}
    return _outermost([*(path for path in python if path and os.path.isdir(path)), *course_folders()])


def folders_under_tmp() -> list[str]:
    """Those of :func:`read_only_folders` below ``/tmp`` (a kit checked out there), that a fresh ``/tmp`` hides."""
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
    """The bwrap command line up to ``--``: system, Python and course read-only; ``/sandbox`` (HOME, TMPDIR, the
    working folder) and ``/tmp`` fresh tmpfs of ``scratch_mb`` MB each; ``writable`` (socket folders) bound as is."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {FIX}")
    args = [bwrap, "--unshare-all", "--die-with-parent", *_system_args()]
    for tmpfs in (SCRATCH, "/tmp"):  # first: a folder bound below may live under /tmp
        args += ["--size", str(scratch_mb << 20), "--tmpfs", tmpfs]
    for folder in read_only_folders():
        args += ["--ro-bind", folder, folder]
    for sub in ("home", "tmp", "work"):
        args += ["--dir", f"{SCRATCH}/{sub}"]
    for folder in writable:
        args += ["--bind", folder, folder]
    return args


def user_env(scratch: str, threads: int) -> dict[str, str]:
    """A kernel's per-user folders in ``scratch``, no user site-packages, ``threads`` OpenMP threads (if > 0)."""
    env = {name: f"{scratch}/{folder}" for name, folder in USER_FOLDERS.items()}
    env.update(MPLBACKEND="agg", PYTHONNOUSERSITE="1")
    if threads > 0:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def kernel_env(env: dict[str, str], threads: int) -> dict[str, str]:
    """The environment of a sandboxed kernel: a few of the grader's variables, every per-user folder in /sandbox."""
    kept = {name: env[name] for name in PASSED_ENV if name in env}
    kept.update(user_env(SCRATCH, threads), USER="student", LOGNAME="student")
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return kept


def kernel_argv(folder: str, connection_file: str, limits: Limits, command: list[str]) -> list[str]:
    """A cold kernel's launch command: ``command`` in a bwrap of its own, which can write only ``folder`` (the ZMQ
    sockets), with ``limits`` set by util-linux's ``prlimit`` inside (so the kit need not be visible there)."""
    args = base_argv([folder], limits.scratch_mb)
    args += ["--ro-bind", connection_file, connection_file, "--chdir", f"{SCRATCH}/work", "--"]
    prlimit = [shutil.which("prlimit") or "/usr/bin/prlimit", f"--nproc={limits.processes}"]
    prlimit += [f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_mb << 20}", "--core=0", "--"]
    return [*args, *prlimit, *command]


def check_available() -> None:
    """Raise SandboxUnavailable, naming the cause and the fix, when bwrap cannot build a sandbox here (tried as a
    zygote's fork does it: inside a bwrap sandbox, new namespaces, then a nested user namespace)."""
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
    """Set this process's resource limits (inherited by everything it starts). Not the address space: a fork inherits
    the zygote's large mappings (torch), so ``SafeExecute`` caps it once the kernel started, before any student cell."""
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

    ``spec`` is ``SafeExecute``'s: ``limits``, ``runtime`` (this kernel's socket folder),
    ``connection_file``, ``hide`` (the zygote's folder) and ``keep`` (:func:`folders_under_tmp`).
    Returns in a new process, PID 1 of a new PID namespace; the caller waits outside and exits with its status.
    """
    libc = ctypes.CDLL(None, use_errno=True)
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
    try:
        _, status = os.waitpid(child, 0)  # retried after the SIGINT handler (PEP 475)
    except ChildProcessError:
        os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)
