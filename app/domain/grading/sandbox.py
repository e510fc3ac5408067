"""Run a learner's Python code against hidden tests in a separate, limited process.

Layers (none is enough alone; see docs/decisions/0007-code-sandbox.md):
- a fresh temporary directory as the working directory, deleted afterwards;
- ``python -I -S`` with an empty environment: no secrets, no site-packages, no user paths;
- resource limits set in the child before exec: CPU seconds, address space, file size, open files,
  processes; its own session, so the whole process group is killed at the end;
- an audit hook installed by the runner before the learner's code is imported, refusing process
  creation, sockets, native code, links, and file access outside the sandbox directory and the
  (read-only) standard library;
- a wall-clock deadline and an output cap enforced by the parent, which accepts only a result that
  carries a per-run seal (sent on stdin, closed before learner code runs) and lists every hidden test.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import signal
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["ok", "timeout", "memory", "output_limit", "crashed", "error"]


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    memory_mb: int = 256
    output_bytes: int = 64_000
    processes: int = 16


@dataclass(frozen=True, slots=True)
class TestOutcome:
    __test__ = False  # not a pytest test class
    name: str
    passed: bool
    message: str


@dataclass(frozen=True, slots=True)
class SandboxResult:
    status: Status
    tests: tuple[TestOutcome, ...]
    passed: int
    total: int
    stdout: str
    detail: str
    duration_ms: float


# Hidden tests are written for pytest, which is not importable in the isolated interpreter: this small
# stand-in offers what course tests use (mark.parametrize, raises, approx, fail).
PYTEST_SHIM = r"""
import math, re

class _Mark:
    def parametrize(self, names, values, ids=None):
        def decorate(fn):
            fn.__lyceum_params__ = [*getattr(fn, "__lyceum_params__", []), (names, list(values))]
            return fn
        return decorate

    def __getattr__(self, _name):
        return lambda *a, **k: (lambda fn: fn)

mark = _Mark()

class raises:
    def __init__(self, expected, match=None):
        self.expected, self.match, self.value = expected, match, None
    def __enter__(self):
        return self
    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not re.search(self.match, str(value)):
            raise AssertionError(f"{value!r} does not match {self.match!r}")
        self.value = value
        return True

class approx:
    def __init__(self, expected, rel=1e-6, abs=1e-12):
        self.expected, self.rel, self.abs = expected, rel, abs
    def __eq__(self, other):
        return math.isclose(other, self.expected, rel_tol=self.rel, abs_tol=self.abs)
    def __repr__(self):
        return f"approx({self.expected!r})"

def fail(message=""):
    raise AssertionError(message)
"""

# The runner. Everything lives in ``_main``'s locals, not in ``__main__``'s globals, so learner code cannot
# reach the result channel through ``sys.modules["__main__"]``. The job (seal, test names, directories) arrives
# on stdin, which is closed before the learner's code runs; the result must carry the seal, so writing a fake
# result to the inherited descriptor (or printing one) is rejected by the parent.
RUNNER = r"""
import json, os, stat, sys

def _main():
    raw = b""
    while chunk := os.read(0, 65536):
        raw += chunk
    job = json.loads(raw)
    out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.close(0)
    del sys.argv[1:]
    seal, names = job["seal"], job["tests"]
    root = os.path.realpath(job["root"])
    stdlib = tuple(os.path.realpath(p) for p in job["stdlib"])
    dynload = os.path.realpath(job["dynload"])
    hidden = tuple(os.path.join(p, "site-packages") for p in stdlib)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    refused_events = frozenset(job["refused_events"])
    refused_modules = frozenset(job["refused_modules"])
    written = [0]

    def refuse(what):
        raise PermissionError(f"not allowed in the sandbox: {what}")

    def inside(real, dirs):
        return any(real == d or real.startswith(d + os.sep) for d in dirs)

    def readable(real):
        return inside(real, (root, *stdlib)) and not inside(real, hidden)

    def audit(event, args):
        if event in refused_events:
            refuse(event)
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return  # a descriptor that is already open
            real = os.path.realpath(os.fsdecode(path))
            # os.open passes no mode string, only flags: judge writes by the flags
            writing = (isinstance(flags, int) and flags & write_flags) or (
                isinstance(mode, str) and any(m in mode for m in "wax+"))
            if not (inside(real, (root,)) if writing else readable(real)):
                refuse(f"open {path!r}")
            try:
                kind = os.stat(real).st_mode
            except OSError:
                kind = None
            if kind is not None and not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
                refuse(f"open {path!r} (not a regular file)")  # device nodes, FIFOs, sockets
            if writing:
                written[0] += 1
                if written[0] > 64:
                    refuse("more than 64 files written")
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if isinstance(path, int):
                return
            if not readable(os.path.realpath(os.fsdecode(path if path is not None else "."))):
                refuse(f"listing {path!r}")
        elif event == "import" and args[0].rpartition(".")[2] in refused_modules:
            refuse(f"import {args[0]}")

    # _posixsubprocess.fork_exec starts processes without any audit event: disable it before the hook goes
    # in, refuse re-importing it, and refuse loading native modules from anywhere but the stdlib's own
    # directory (a learner could otherwise write a .so into the sandbox and import it).
    import _imp, _posixsubprocess
    def no_fork_exec(*_args):
        refuse("subprocess")
    _posixsubprocess.fork_exec = no_fork_exec
    create_dynamic = _imp.create_dynamic
    def guarded_create_dynamic(spec, *rest):
        origin = os.path.realpath(getattr(spec, "origin", None) or "")
        if spec.name.rpartition(".")[2] in refused_modules or not origin.startswith(dynload + os.sep):
            refuse(f"native module {spec.name}")
        return create_dynamic(spec, *rest)
    _imp.create_dynamic = guarded_create_dynamic

    sys.addaudithook(audit)
    sys.path.insert(0, root)
    del raw, job
    try:
        import test_submission as tests
    except BaseException as exc:  # a syntax error or a crash while importing the learner's code
        kind = "memory" if isinstance(exc, MemoryError) else "crashed"
        text = _syntax(exc) if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
        os.write(out, json.dumps({"seal": seal, kind: text[:2000]}).encode())
        return
    outcomes = []
    for name in names:
        fn = getattr(tests, name, None)
        if not callable(fn):
            outcomes.append([name, False, "the test is not defined"])
            continue
        for label, kwargs in _cases(name, fn):
            try:
                returned = fn(**kwargs)
                if hasattr(returned, "close") and hasattr(returned, "send"):
                    returned.close()
                    raise TypeError("async tests are not supported")
                outcomes.append([label, True, ""])
            except MemoryError:
                outcomes.append([label, False, "MemoryError: the memory limit was reached"])
            except AssertionError as exc:
                outcomes.append([label, False, ("AssertionError: " + str(exc))[:500]])
            except BaseException as exc:  # the learner's code may raise anything, SystemExit included
                outcomes.append([label, False, f"{type(exc).__name__}: {exc}"[:500]])
    os.write(out, json.dumps({"seal": seal, "tests": outcomes}).encode())

def _syntax(exc):
    where = f" (line {exc.lineno})" if exc.lineno else ""
    return f"SyntaxError: {exc.msg}{where}"

def _cases(name, fn):
    calls = [(name, {})]
    for names, values in getattr(fn, "__lyceum_params__", []):
        keys = [k.strip() for k in names.split(",")] if isinstance(names, str) else list(names)
        expanded = []
        for label, kwargs in calls:
            for index, value in enumerate(values):
                args = dict(zip(keys, value if len(keys) > 1 else (value,)))
                expanded.append((f"{label}[{index}]", {**kwargs, **args}))
        calls = expanded
    return calls

sys.stdout.reconfigure(errors="backslashreplace")
_main()
"""

# Audit events refused outright: process creation, signals to other processes, sockets, native code, the
# environment, the working directory, links (a hard link to /etc/shadow would look like a file in the sandbox),
# raising resource limits (root may raise hard limits), heap walking (to find the result channel) and sqlite
# (which opens files in C, without an "open" event).
REFUSED_EVENTS = (
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
    "os.kill", "os.killpg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function",
    "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
    "socket.sendto", "os.putenv", "os.unsetenv", "os.chdir", "os.link", "os.symlink", "os.rename", "os.remove",
    "os.rmdir", "shutil.rmtree", "os.truncate", "os.chmod", "os.chown", "os.chflags", "os.setxattr",
    "os.removexattr", "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sys._current_frames", "sqlite3.connect", "sqlite3.enable_load_extension", "pty.spawn",
)  # fmt: skip
# Native modules that reach the OS without audit events (or exist only to test the C API).
REFUSED_MODULES = (
    "_posixsubprocess", "_ctypes", "_testcapi", "_testinternalcapi", "_xxsubinterpreters", "_testmultiphase",
    "_testimportmultiple", "_testbuffer", "_testclinic", "_dbm", "_gdbm", "readline", "_sqlite3", "_posixshmem",
    "_multiprocessing",
)  # fmt: skip


def _stdlib_dirs() -> tuple[list[str], str]:
    """The base interpreter's standard library (read-only for imports) and its native-module directory.

    Computed from ``os.__file__`` rather than sysconfig: inside a virtualenv sysconfig's ``platstdlib`` is
    the venv's own lib directory, whose site-packages the sandbox must not see."""
    stdlib = os.path.realpath(os.path.dirname(os.__file__))
    dynload = os.path.realpath(str(sysconfig.get_config_var("DESTSHARED") or os.path.join(stdlib, "lib-dynload")))
    return sorted({stdlib, dynload}), dynload


def _test_names(tests: str) -> list[str]:
    """Top-level ``test_*`` functions, in source order; the parent decides what must be reported."""
    tree = ast.parse(tests, filename="test_submission.py")
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    ]


def _limit(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec (the child has no threads, so this is safe)."""
    cpu = max(1, math.ceil(limits.cpu_seconds))
    memory = limits.memory_mb * 1024 * 1024
    files = max(limits.output_bytes * 4, 1 << 20)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))  # ignored for root
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _stop(process: asyncio.subprocess.Process, reader: asyncio.Future[bool]) -> None:
    """Kill the whole group, then let the pipe drain: asyncio only reports the exit once the pipe reaches EOF."""
    _kill_group(process.pid)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(reader), timeout=2)
    reader.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), timeout=5)


async def _read_capped(stream: asyncio.StreamReader, into: bytearray, cap: int) -> bool:
    """Read into ``into`` until EOF; True as soon as the output goes over ``cap`` (the excess is dropped)."""
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        into += chunk[: max(0, cap - len(into))]
        if total > cap:
            return True
    return False


def _result(
    status: Status,
    started: float,
    stdout: bytes | bytearray = b"",
    detail: str = "",
    tests: tuple[TestOutcome, ...] = (),
) -> SandboxResult:
    return SandboxResult(
        status=status,
        tests=tests,
        passed=sum(1 for t in tests if t.passed),
        total=len(tests),
        stdout=bytes(stdout).decode(errors="replace"),
        detail=detail,
        duration_ms=(time.monotonic() - started) * 1000,
    )


async def run_code_tests(code: str, tests: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run ``tests`` (saved as test_submission.py) against ``code`` (saved as submission.py) in a child process.

    ``status == "ok"`` means the run finished; how many tests passed is in ``passed``/``total``."""
    started = time.monotonic()
    try:
        names = _test_names(tests)
    except SyntaxError as exc:
        return _result("error", started, detail=f"the hidden tests do not compile: {exc.msg} (line {exc.lineno})")
    if not names:
        return _result("error", started, detail="the hidden tests define no test_* functions")
    stdlib, dynload = _stdlib_dirs()
    # The result goes to a directory of its own, outside the one learner code can list and write.
    with (
        tempfile.TemporaryDirectory(prefix="lyceum-sandbox-") as workdir,
        tempfile.TemporaryDirectory(prefix="lyceum-result-") as resultdir,
    ):
        root = Path(workdir)
        (root / "submission.py").write_text(code, encoding="utf-8")
        (root / "test_submission.py").write_text(tests, encoding="utf-8")
        (root / "_runner.py").write_text(RUNNER, encoding="utf-8")
        (root / "pytest.py").write_text(PYTEST_SHIM, encoding="utf-8")
        result_path = Path(resultdir) / f"result-{secrets.token_hex(16)}.json"
        seal = secrets.token_hex(32)
        job = {
            "seal": seal,
            "tests": names,
            "root": str(root),
            "stdlib": stdlib,
            "dynload": dynload,
            "refused_events": REFUSED_EVENTS,
            "refused_modules": REFUSED_MODULES,
        }
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", "-B", "-X", "utf8", str(root / "_runner.py"), str(result_path),
                cwd=root,
                env={},  # nothing inherited: no DATABASE_URL, API keys or secret keys
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
                preexec_fn=lambda: _limit(limits),
            )  # fmt: skip
        except OSError as exc:
            return _result("error", started, detail=f"could not start the sandbox: {exc}")
        assert process.stdin is not None
        assert process.stdout is not None
        output = bytearray()
        reader = asyncio.ensure_future(_read_capped(process.stdout, output, limits.output_bytes))
        try:
            process.stdin.write(json.dumps(job).encode())
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
            process.stdin.close()
            deadline = started + limits.wall_seconds
            if await asyncio.wait_for(asyncio.shield(reader), timeout=deadline - time.monotonic()):
                await _stop(process, reader)
                return _result("output_limit", started, output, f"printed more than {limits.output_bytes} bytes")
            # EOF on stdout, yet the runner may still be alive (it closed or redirected its output).
            returncode = await asyncio.wait_for(process.wait(), timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            await _stop(process, reader)
            detail = f"stopped after {limits.wall_seconds:g} s of wall-clock time"
            return _result("timeout", started, output, detail)
        except BaseException:  # cancelled: leave nothing running
            await _stop(process, reader)
            raise
        _kill_group(process.pid)  # anything the learner's code left running in its group
        return _interpret(returncode, output, result_path, seal, names, started)


def _interpret(
    returncode: int, output: bytearray, result_path: Path, seal: str, names: list[str], started: float
) -> SandboxResult:
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return _result("timeout", started, output, "the CPU-time limit was reached")
    raw = _read_result(result_path, seal)
    if raw is None:
        if b"MemoryError" in output:
            return _result("memory", started, output, "the memory limit was reached")
        return _result("error", started, output, f"the test run ended without a valid result (exit {returncode})")
    if "memory" in raw:
        return _result("memory", started, output, f"the memory limit was reached: {raw['memory']}")
    if "crashed" in raw:
        return _result("crashed", started, output, str(raw["crashed"]))
    outcomes = _outcomes(raw.get("tests"), names)
    if outcomes is None:
        return _result("error", started, output, "the test run reported results that do not match the hidden tests")
    if any(t.message.startswith("MemoryError") for t in outcomes):
        return _result("memory", started, output, "the memory limit was reached", outcomes)
    return _result("ok", started, output, "", outcomes)


def _read_result(result_path: Path, seal: str) -> dict[str, object] | None:
    """The runner's JSON, only if it is a single well-formed object carrying this run's seal."""
    try:
        raw = json.loads(result_path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not secrets.compare_digest(str(raw.get("seal", "")), seal):
        return None
    return raw


def _outcomes(listed: object, names: list[str]) -> tuple[TestOutcome, ...] | None:
    """Validate the reported outcomes: every hidden test exactly once (parametrized cases as ``name[i]``)."""
    if not isinstance(listed, list):
        return None
    outcomes: list[TestOutcome] = []
    for entry in listed:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)):
            return None
        name, passed, message = entry
        if not isinstance(passed, bool) or not isinstance(message, str):
            return None
        outcomes.append(TestOutcome(name, passed, message))
    labels = [t.name for t in outcomes]
    if len(set(labels)) != len(labels) or {label.partition("[")[0] for label in labels} != set(names):
        return None
    return tuple(outcomes)
