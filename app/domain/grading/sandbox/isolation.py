"""The operating-system boundary around learner code: bubblewrap namespaces, a seccomp filter, an unprivileged uid.

Each sandboxed process gets fresh user (or, when the worker is root, none needed), mount, pid, network, ipc,
uts and cgroup namespaces; a root filesystem that holds only the interpreter, its standard library (without
site-packages) and the shared libraries they load, all read-only; empty size-limited tmpfs for ``/work`` and
``/tmp``; a minimal ``/dev`` and no ``/proc``. A seccomp filter refuses what code in there never needs
(process creation, sockets, ptrace, mount, keyctl, bpf, io_uring, kernel modules...), ``no_new_privs`` is set
by bubblewrap, and the process runs as an unprivileged uid (65534 by default). Nothing of the data directory,
the repository, the worker's environment or other submissions exists inside.

When the tools are missing the boundary is unavailable and code grading fails closed (``SandboxUnavailable``),
unless a development setting explicitly allows the weak, unisolated mode. See ADR 0007.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import errno
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog

if TYPE_CHECKING:
    from app.config import Settings

log = structlog.get_logger("lyceum.sandbox")

GUEST_DIR = Path(__file__).resolve().parent / "guest"
GUEST_MOUNT = "/lyceum"  # the guest package is mounted at /lyceum/guest
WORK_DIR = "/work"
SCRATCH_BYTES = 16 * 1024 * 1024  # each of /work and /tmp, in memory
CLONE_THREAD = 0x00010000

# Refused with EPERM (clone3 with ENOSYS, so the C library falls back to clone, whose flags the filter can see).
DENIED_SYSCALLS = (
    # new processes and namespaces (threads stay allowed: clone with CLONE_THREAD)
    "fork", "vfork", "unshare", "setns",
    # the network, including abstract Unix sockets and socketpair
    "socket", "socketpair",
    # looking into or controlling other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal",
    # mounts and filesystem handles
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fspick",
    "mount_setattr", "name_to_handle_at", "open_by_handle_at", "mknod", "mknodat",
    # kernel attack surface code in here never needs
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog", "iopl", "ioperm", "quotactl",
    "lookup_dcookie", "vhangup", "personality", "fanotify_init", "memfd_secret", "seccomp",
    # the machine's clock and names
    "clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "sethostname", "setdomainname",
)  # fmt: skip
# Native modules whose libraries are not mounted (GUI, terminals, databases) or that exist only to test CPython.
_UNMOUNTED_MODULES = ("_tkinter", "_curses", "_curses_panel", "readline", "_dbm", "_gdbm", "_test", "_ctypes_test")

Mode = Literal["isolated", "unsafe"]


class SandboxUnavailable(RuntimeError):
    """Code cannot be run safely here; the message says what is missing and how to fix it."""


@dataclass(frozen=True, slots=True)
class SandboxPolicy:
    """How learner code may run. ``allow_unsafe``: without bubblewrap, run it unisolated (development only)."""

    bwrap: str = "bwrap"
    allow_unsafe: bool = False
    uid: int = 65534
    gid: int = 65534


def sandbox_policy(settings: Settings) -> SandboxPolicy:
    return SandboxPolicy(
        bwrap=settings.sandbox_bwrap,
        allow_unsafe=settings.sandbox_allow_unsafe,
        uid=settings.sandbox_uid,
        gid=settings.sandbox_gid,
    )


@dataclass(frozen=True, slots=True)
class Isolation:
    mode: Mode
    bwrap: str  # path to bubblewrap ("" in unsafe mode)
    privileged: bool  # the worker is root: no user namespace; the guest drops to the policy's uid itself
    layout: PythonLayout | None


@dataclass(frozen=True, slots=True)
class PythonLayout:
    """What of the host's Python the sandbox needs, as (host path, path inside) pairs."""

    executable: str
    stdlib: str
    dynload: str
    hidden: tuple[str, ...]  # directories under the stdlib to cover with an empty tmpfs (site-packages)
    files: tuple[tuple[str, str], ...]  # the interpreter's shared libraries and the dynamic loader


def python_executable() -> str:
    """The base interpreter (not a virtualenv's launcher, whose pyvenv.cfg would lead to site-packages)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@lru_cache(maxsize=1)
def python_layout() -> PythonLayout:
    executable = python_executable()
    stdlib = os.path.realpath(os.path.dirname(os.__file__))
    dynload = os.path.realpath(str(sysconfig.get_config_var("DESTSHARED") or os.path.join(stdlib, "lib-dynload")))
    hidden = tuple(
        str(p) for p in sorted(Path(stdlib).glob("site-packages")) + sorted(Path(stdlib).glob("dist-packages"))
    )
    binaries = [executable] + [
        str(p) for p in sorted(Path(dynload).glob("*.so")) if not p.name.startswith(_UNMOUNTED_MODULES)
    ]
    return PythonLayout(executable, stdlib, dynload, hidden, tuple(sorted(_shared_libraries(binaries))))


def _shared_libraries(binaries: list[str]) -> set[tuple[str, str]]:
    """Every shared library the binaries load (as ``ldd`` resolves them), plus libgcc_s, which glibc loads
    at run time for thread exits. Paths inside keep the host's names; their sources are resolved."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(binaries), 32):
        result = subprocess.run(
            ["ldd", *binaries[start : start + 32]], capture_output=True, text=True, check=False, timeout=30
        )
        for line in result.stdout.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) >= 3 else (parts[0] if parts else "")
            if path.startswith("/") and os.path.exists(path):
                found.add((os.path.realpath(path), path))
    for _, inside in list(found):
        if os.path.basename(inside).startswith("libc.so"):
            gcc = os.path.join(os.path.dirname(inside), "libgcc_s.so.1")
            if os.path.exists(gcc):
                found.add((os.path.realpath(gcc), gcc))
    return found


@lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """The BPF filter, compiled once by libseccomp (through the pure-Python ``pyseccomp``)."""
    try:
        import pyseccomp as seccomp  # type: ignore[import-untyped]

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            with contextlib.suppress(Exception):  # a call this kernel/architecture does not have
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
        fd = os.memfd_create("lyceum-seccomp")
        with open(fd, "w+b") as program:
            rules.export_bpf(program)
            program.flush()
            program.seek(0)
            return program.read()
    except Exception as exc:  # libseccomp missing, or a ctypes error from it
        raise SandboxUnavailable(f"the seccomp filter could not be built (libseccomp: {exc})") from exc


def memfd_with(name: str, data: bytes) -> int:
    """A readable in-memory file holding ``data``, positioned at its start (for bubblewrap's --seccomp)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def bwrap_argv(isolation: Isolation, policy: SandboxPolicy, seccomp_fd: int) -> list[str]:
    """The bubblewrap command line, up to (not including) the program to run inside."""
    layout = isolation.layout
    assert layout is not None
    binds: list[tuple[str, str]] = [
        (layout.executable, layout.executable),
        (layout.stdlib, layout.stdlib),
        *layout.files,
        (str(GUEST_DIR), f"{GUEST_MOUNT}/guest"),
    ]
    if not layout.dynload.startswith(layout.stdlib + os.sep):
        binds.append((layout.dynload, layout.dynload))
    argv = [isolation.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "lyceum-sandbox"]
    if isolation.privileged:
        # bubblewrap as root drops every capability but these two, which the guest uses once to become
        # the unprivileged uid before any untrusted code runs (boot.py).
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(policy.uid), "--gid", str(policy.gid), "--disable-userns"]
    argv += ["--clearenv"]
    for directory in _parents(inside for _, inside in binds):
        argv += ["--perms", "0755", "--dir", directory]
    for source, inside in binds:
        argv += ["--ro-bind", source, inside]
    for hidden in layout.hidden:
        argv += ["--tmpfs", hidden]
    argv += ["--dev", "/dev"]
    argv += ["--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108 - in the sandbox
    argv += ["--size", str(SCRATCH_BYTES), "--perms", "0777", "--tmpfs", WORK_DIR, "--chdir", WORK_DIR]
    argv += ["--seccomp", str(seccomp_fd), "--"]
    return argv


def _parents(paths: object) -> list[str]:
    """Every ancestor directory of the mount points, shallowest first, created world-readable."""
    found: set[str] = set()
    for path in paths:  # type: ignore[attr-defined]
        parent = os.path.dirname(str(path))
        while parent not in ("/", ""):
            found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found, key=lambda p: (p.count("/"), p))


_probed: dict[SandboxPolicy, Isolation] = {}


async def isolation_for(policy: SandboxPolicy) -> Isolation:
    """The isolation this process can give learner code, or ``SandboxUnavailable``. Checked once per policy
    (two concurrent first calls may both check: harmless); a failed check is repeated next time, so
    installing bubblewrap needs no restart."""
    if policy not in _probed:
        _probed[policy] = await _probe(policy)
    return _probed[policy]


async def _probe(policy: SandboxPolicy) -> Isolation:
    # The guest runs with -B (it never writes bytecode): compile it once here, or every run compiles it
    # again (about 40 ms). Best effort: a read-only install just runs a little slower.
    await asyncio.to_thread(compileall.compile_dir, str(GUEST_DIR), quiet=2)
    try:
        isolation = await asyncio.to_thread(_check_tools, policy)
        await _smoke_test(isolation, policy)
    except SandboxUnavailable as exc:
        if not policy.allow_unsafe:
            log.error("sandbox_unavailable", reason=str(exc))
            raise
        log.warning(
            "sandbox_unsafe_mode",
            reason=str(exc),
            warning="LEARNER CODE RUNS WITHOUT ISOLATION (LYCEUM_SANDBOX_ALLOW_UNSAFE): development only",
        )
        return Isolation("unsafe", "", False, None)
    log.info("sandbox_isolated", bwrap=isolation.bwrap, privileged=isolation.privileged)
    return isolation


def _check_tools(policy: SandboxPolicy) -> Isolation:
    bwrap = shutil.which(policy.bwrap)
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install the Debian/Ubuntu package `bubblewrap` "
            "(`make dev` and `make test` do so when they run as root)"
        )
    seccomp_program()
    return Isolation("isolated", bwrap, os.geteuid() == 0, python_layout())


async def _smoke_test(isolation: Isolation, policy: SandboxPolicy) -> None:
    """Run the interpreter once inside the full profile: namespaces may be disabled on this kernel."""
    seccomp_fd = memfd_with("lyceum-seccomp", seccomp_program())
    try:
        process = await asyncio.create_subprocess_exec(
            *bwrap_argv(isolation, policy, seccomp_fd),
            python_executable(), "-I", "-S", "-B", "-c", "import os, socket; print(os.getpid())",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={},
            pass_fds=(seccomp_fd,),
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    except (OSError, TimeoutError) as exc:
        raise SandboxUnavailable(f"bubblewrap could not start: {exc}") from exc
    finally:
        os.close(seccomp_fd)
    if process.returncode != 0 or out.strip() != b"2":  # the program is pid 2 in its own pid namespace
        detail = err.decode(errors="replace").strip()[-300:] or f"exit {process.returncode}"
        raise SandboxUnavailable(f"bubblewrap cannot create the sandbox on this machine: {detail}")
