"""The grading sandbox (bubblewrap): what a student's kernel can see, write, reach and spend.

Two layers: one bwrap sandbox per grading run holds the kernel zygote (``base_argv``), and each
fork enters a nested sandbox of its own (``enter_kernel``); without a zygote a kernel gets the
same from one bwrap of its own (``kernel_argv``). README.md, "Isolation", lists what each layer
guarantees and how.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

SCRATCH = "/sandbox"  # the writable tmpfs, inside: HOME, TMPDIR and the working folder
# All a kernel inherits of the grader's environment, which may hold tokens and paths.
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
# Kept by the zygote (or a cold kernel's launcher) to build each kernel's namespaces and mounts (in bwrap's user
# namespace; the machine's for root: KERNEL_UID); each kernel gives them up in enter_kernel, before any student code.
ZYGOTE_CAPS = ["--cap-add", "ALL"]
# A root grader's kernels run as nobody: Linux exempts root from RLIMIT_NPROC, and bwrap's user namespace can map
# no user but the grader's, so for root it keeps the machine's. nobody exists everywhere and owns nothing shown.
KERNEL_UID = 65534
SYSTEM_TOPS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # beside /usr: links into it, or folders
SYSTEM = ("/usr", "/etc", *SYSTEM_TOPS)  # what base_argv shows of the machine
ENV_VAR = "GANLAB_SANDBOX"  # the kernel's limits and folders (JSON), from the grader to the zygote's fork
FIX = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) and allow unprivileged user "
    "namespaces (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
    "`kernel.apparmor_restrict_unprivileged_userns=0`), or grade without a sandbox by setting "
    "`c.SafeExecute.sandbox = False` in autograder/nbgrader_config.py"
)


class SandboxUnavailable(RuntimeError):
    """This machine cannot build the sandbox (no bwrap, no user namespaces)."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one kernel may spend. Each limit makes the offending call fail (MemoryError, OSError, SIGXCPU)."""

    scratch_mb: int = 512  # the tmpfs holding HOME, TMPDIR and the working folder (it counts as memory)
    memory_gb: float = 8.0  # address space per process (RLIMIT_AS): torch alone maps 4.4 GB
    processes: int = 256  # processes and threads of the kernel (RLIMIT_NPROC, in its own user namespace)
    cpu_seconds: int = 1800  # CPU time per process (RLIMIT_CPU): a kernel past it is killed, costing one cell
    file_mb: int = 512  # largest file it may write (RLIMIT_FSIZE)


def course_folders(packages: tuple[str, ...] = ()) -> list[str]:
    """The folders a kernel would import the course packages (``COURSE_PACKAGES``, or ``packages``) from, and only
    those: an editable install's repository, notebooks and grading kit stay invisible."""
    from ganlab.exercises import COURSE_PACKAGES

    folders = []
    for name in packages or COURSE_PACKAGES:
        spec = _find(name)
        if spec is not None and spec.submodule_search_locations:
            folders += [os.path.realpath(path) for path in spec.submodule_search_locations]
    return folders


def _find(name: str):  # noqa: ANN202 (a ModuleSpec or None)
    """Where a kernel would find module ``name``: on ``PYTHONPATH`` (first on its ``sys.path``), else as this process
    finds it."""
    from importlib.machinery import PathFinder

    entries = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    spec = PathFinder.find_spec(name, entries) if entries else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    return spec


def _origin(spec) -> str:  # noqa: ANN001 (a ModuleSpec)
    """The file of a module, or the first folder of a package without one (a namespace package)."""
    return spec.origin if spec.has_location else next(iter(spec.submodule_search_locations or ()), "")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@functools.cache
def _startup_path(python: str, env: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    done = subprocess.run(
        [python, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"], env=dict(env), cwd="/",
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return tuple(json.loads(done.stdout.splitlines()[-1]))
    except (IndexError, ValueError):  # a Python that does not start: check_available says so
        return ()


def kernel_path() -> list[str]:
    """A kernel's ``sys.path`` as it starts, but the working folder (the installation, site-packages, the user site,
    ``PYTHONPATH``, .pth folders): asked of this Python with a kernel's environment, once per process."""
    return list(_startup_path(sys.executable, tuple(sorted(kernel_env(dict(os.environ), 0).items()))))


def read_only_folders() -> list[str]:
    """The folders every sandbox shows read-only, at their own path and their real one: the Python installation,
    :func:`kernel_path` and the course packages; never one that holds or lies in the kit or the source notebooks."""
    import site
    import sysconfig

    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    python |= {str(Path(os.path.realpath(sys.executable)).parents[1]), *sysconfig.get_paths().values()}
    kit = os.path.dirname(os.path.realpath(__file__))
    notebooks = os.path.join(os.path.dirname(kit), "notebooks")

    def private(path: str) -> bool:  # holds or lies in the grading kit or the source notebooks
        real = os.path.realpath(path)
        return any(_inside(real, folder) or _inside(folder, real) for folder in (kit, notebooks))

    startup = [path for path in kernel_path() if os.path.isabs(path) and not private(path)]
    # At the path a kernel meets (a symlinked one too) and at the real one (a library may resolve its own path).
    shown = {form for path in (*python, *startup) if path and os.path.exists(path)
             for form in (os.path.normpath(path), os.path.realpath(path))}  # fmt: skip
    shown = {path for path in shown if not any(_inside(path, top) for top in SYSTEM)}
    kept: list[str] = []
    for path in sorted({*shown, *course_folders()}):  # the outermost only: one bind covers those inside
        if not any(_inside(path, k) for k in kept):
            kept.append(path)
    return kept


def folders_under_tmp() -> list[str]:
    """Those of :func:`read_only_folders` below ``/tmp`` (a kit checked out there), that a fresh ``/tmp`` hides."""
    return [folder for folder in read_only_folders() if folder.startswith("/tmp/")]


def base_argv(writable: list[str], scratch_mb: int) -> list[str]:
    """The bwrap command line up to ``--``: system, Python and course read-only; ``/sandbox`` (HOME, TMPDIR, the
    working folder) and ``/tmp`` fresh tmpfs of ``scratch_mb`` MB each; ``writable`` (socket folders) bound as is."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {FIX}")
    # For root, every namespace but the user's (KERNEL_UID says why); for anyone else, all of them.
    namespaces = ("ipc", "pid", "net", "uts", "cgroup-try")
    unshare = [f"--unshare-{name}" for name in namespaces] if os.geteuid() == 0 else ["--unshare-all"]
    args = [bwrap, *unshare, "--die-with-parent", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in SYSTEM_TOPS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for tmpfs in (SCRATCH, "/tmp"):  # first: a folder bound below may live under /tmp
        args += ["--size", str(scratch_mb << 20), "--tmpfs", tmpfs]
    shown = read_only_folders()
    # The folders above each bind, which bwrap would make for root alone (mode 0700), traversable by the kernel's user.
    above = {str(parent) for folder in (*shown, *writable) for parent in Path(folder).parents}
    for parent in sorted(above - {"/"}):  # sorted: each after the one it lies in
        if not any(_inside(parent, top) for top in SYSTEM):
            args += ["--dir", parent]
    for folder in shown:
        args += ["--ro-bind", folder, folder]
    for sub in ("home", "tmp", "work"):
        args += ["--dir", f"{SCRATCH}/{sub}"]
    for folder in writable:
        args += ["--bind", folder, folder]
    return args


def user_env(scratch: str, threads: int) -> dict[str, str]:
    """A kernel's per-user folders in ``scratch``, the grader's user site-packages (``pip install --user``) if it
    has one, ``threads`` OpenMP threads (if > 0)."""
    import site

    env = {name: f"{scratch}/{folder}" for name, folder in USER_FOLDERS.items()}
    env["MPLBACKEND"] = "agg"
    # HOME moves into the scratch folder, so the user site is named by its base; with none, a kernel imports
    # nothing from its HOME (a .pth file a cell wrote there would run in the next kernel before the guard).
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        env["PYTHONUSERBASE"] = site.getuserbase()
    else:
        env["PYTHONNOUSERSITE"] = "1"
    if threads > 0:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def kernel_env(env: dict[str, str], threads: int) -> dict[str, str]:
    """The environment of a sandboxed kernel: a few of the grader's variables, every per-user folder in /sandbox."""
    kept = {name: env[name] for name in PASSED_ENV if name in env}
    kept.update(user_env(SCRATCH, threads), USER="student", LOGNAME="student")
    kept.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return kept


def kernel_argv(
    folder: str, connection_file: str, limits: Limits, command: list[str], conceal: Sequence[str] = ()
) -> list[str]:
    """A cold kernel's launch command: ``command`` in a bwrap of its own that enters the nested sandbox of a zygote's
    fork (:func:`enter_kernel`, from this file bound where the scratch folder covers it); ``folder`` (the ZMQ
    sockets) is writable, ``conceal`` covered (see :func:`enter_kernel`)."""
    spec = {"limits": dataclasses.asdict(limits), "runtime": folder, "connection_file": connection_file, "hide": "",
            "keep": folders_under_tmp(), "conceal": list(conceal)}  # fmt: skip
    kit = f"{SCRATCH}/kit/{os.path.basename(__file__)}"
    args = [*base_argv([folder], limits.scratch_mb), "--ro-bind", os.path.abspath(__file__), kit, *ZYGOTE_CAPS]
    args += ["--chdir", f"{SCRATCH}/work", "--", sys.executable, "-S", kit, "enter", json.dumps(spec)]
    return [*args, *command]


def check_available(modules: Sequence[str] = ()) -> dict[str, str]:
    """What a Python started as a cold kernel (:func:`kernel_argv`) met for each of ``modules`` it cannot import
    (:func:`unfound`); SandboxUnavailable, naming the cause and the fix, when that sandbox cannot be built here."""
    folder = tempfile.mkdtemp(prefix="ganlab_check_")
    try:
        connection = os.path.join(folder, "kernel.json")
        Path(connection).touch()
        finder = shutil.copy(__file__, folder)  # the kernel keeps its runtime folder: this file's copy there
        argv = kernel_argv(folder, connection, Limits(scratch_mb=16), [sys.executable, finder, "find", *modules])
        done = subprocess.run(argv, env=kernel_env(dict(os.environ), 1), capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailable(f"bubblewrap could not run ({error}): {FIX}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    said = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    if said.startswith(("bwrap:", "sandbox:")):
        raise SandboxUnavailable(f"bubblewrap cannot build a sandbox on this machine ({said}): {FIX}")
    raise SandboxUnavailable(
        f"{sys.executable} does not start in it ({said}): its installation must be readable by every user (a "
        "grader run as root runs its kernels as nobody)"
    )


def unfound(modules: Sequence[str]) -> dict[str, str]:
    """'not found' or the unreadable file, for each of ``modules`` this Python cannot import (none is imported)."""
    met = {}
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError) as error:
            met[name] = f"{type(error).__name__}: {error}"
            continue
        if spec is None:
            met[name] = "not found"
        elif not os.access(path := _origin(spec), os.R_OK):
            met[name] = f"{path} is not readable"
    return met


def not_importable(name: str, met: str) -> tuple[str, str]:
    """(why a kernel that met ``met`` cannot import ``name`` in the sandbox, as this grader sees it; the fix)."""
    spec = _find(name)
    if spec is None or not (spec.has_location or spec.submodule_search_locations):
        return f"{met}; nor can this grader", f"install it (`{sys.executable} -m pip install {name}`)"
    path = os.path.realpath(_origin(spec))
    install = f"install {name} with pip, or put its folder on PYTHONPATH"
    bound = next((folder for folder in read_only_folders() if _inside(path, folder)), None)
    if bound is None:
        return f"{met}; this grader imports it from {os.path.dirname(path)}, which the sandbox hides", install
    # Graded as root, a kernel is nobody: each folder from the bind down to the module must be open to all users.
    below = [str(parent) for parent in reversed(Path(path).parents) if _inside(str(parent), bound)]
    for folder in [*below, path] if os.geteuid() == 0 else []:
        mode = os.stat(folder).st_mode
        wanted = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
        if mode & wanted != wanted:
            where = f"{folder} is not open to every user, and a kernel graded as root runs as nobody"
            return f"{met}; {where}", f"open it (`chmod -R a+rX {folder}`)"
    return f"{met}; this grader imports it from {os.path.dirname(path)}, where a kernel's Python does not look", install


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
    """Set this process's resource limits, inherited by all it starts; not the address space, which a fork inherits
    large (torch): ``SafeExecute`` caps it once the kernel started, before any student cell."""
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
    """In a fork of the zygote (single-threaded), or a cold kernel's launcher: become a kernel in a sandbox of its own.

    ``spec`` is ``SafeExecute``'s: ``limits``, ``runtime`` (this kernel's socket folder), ``connection_file``, ``hide``
    (the zygote's folder), ``keep`` (:func:`folders_under_tmp`) and ``conceal`` (folders covered by an empty read-only
    one: the reference package's, for a notebook that needs none). Returns in a new process, PID 1 of a new PID
    namespace; the caller waits outside and exits with its status.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    limits, runtime, hide, connection = spec["limits"], spec["runtime"], spec["hide"], spec["connection_file"]
    # Root here is the machine's root (base_argv): the kernel will be KERNEL_UID, owning its sockets' folder, its
    # connection file (before it is bound read-only) and its scratch folder.
    owner = KERNEL_UID if os.getuid() == 0 else None
    if owner is not None:
        for path in (runtime, connection):
            os.chown(path, owner, owner)
    _call(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    # A fresh scratch over the zygote's: HOME, TMPDIR (also seen as /tmp), the working folder.
    owned = "" if owner is None else f",uid={owner},gid={owner}"
    _mount(libc, "tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size={limits['scratch_mb']}m,mode=0700{owned}")
    for sub in ("home", "tmp", "work", ".runtime"):
        os.mkdir(f"{SCRATCH}/{sub}")
        if owner is not None:
            os.chown(f"{SCRATCH}/{sub}", owner, owner)
    # Of the zygote's folder only this kernel's runtime folder stays, of its /tmp only the read-only folders there
    # (a kit under /tmp): each is kept aside, everything covered, then each put back at its own path.
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
    for folder in spec.get("conceal", ()):
        _mount(libc, "tmpfs", folder, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
    _mount(libc, connection, connection, None, MS_BIND)
    _mount(libc, None, connection, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(connection))
    _mount(libc, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m")
    child = os.fork()
    if child == 0:
        # PID 1 of its namespace, in a session of its own: kill(0) or killpg reach only its own processes.
        os.setsid()
        # Its own /proc: it sees its own processes only (not the zygote, not other kernels).
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if owner is not None:  # root's capabilities go with root
            os.setgroups([])
            os.setresgid(owner, owner, owner)
            os.setresuid(owner, owner, owner)
            libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the change made /proc/self root's: its maps are written below
        # Give up the zygote's capabilities (ZYGOTE_CAPS): in a user namespace of its own, it owns none of the
        # namespaces and mounts above, so it can change none of them.
        uid, gid = os.getuid(), os.getgid()
        _call(libc.unshare(CLONE_NEWUSER), "unshare")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
        # Set in its own user namespace, RLIMIT_NPROC counts this kernel's processes alone, not all its user's.
        apply_limits(limits)
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["enter"] and len(sys.argv) > 3:  # a cold kernel's launcher (kernel_argv), in its bwrap
        try:
            enter_kernel(json.loads(sys.argv[2]))
        except OSError as error:
            sys.exit(f"sandbox: {error}")
        os.execv(sys.argv[3], sys.argv[3:])
    if sys.argv[1:2] == ["find"]:  # check_available, as a kernel's Python
        del sys.path[0]  # this file's folder, which a kernel's path lacks
        print(json.dumps(unfound(sys.argv[2:])))
        sys.exit(0)
    sys.exit("usage: sandbox.py enter SPEC COMMAND... | find MODULE...")
