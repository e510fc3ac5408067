"""Run a learner's Python code against hidden tests in a separate, limited process.

Layers (none is enough alone; see docs/decisions/0007-code-sandbox.md):
- a fresh temporary directory as the working directory, deleted afterwards;
- ``python -I -S`` with an empty environment: no secrets, no site-packages, no user paths;
- resource limits set in the child before exec: CPU seconds, address space, file size, open files,
  processes; its own session, so the whole process group is killed at the end;
- an audit hook installed by the runner before the learner's code is imported, refusing process
  creation, sockets, ctypes and file access outside the sandbox directory and the standard library;
- a wall-clock deadline and an output cap enforced by the parent, which reads the result from a file
  named with a random nonce (printing a fake result changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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

# The runner: installs the audit hook, imports the tests (which import the submission), runs test_*.
RUNNER = r"""
import json, os, sys, traceback
result_path, root = sys.argv[1], os.path.realpath(sys.argv[2])
allowed_read = tuple(os.path.realpath(p) for p in sys.argv[3:]) + (root,)
result_file = open(result_path, "w")  # opened before the hook, which then refuses this path
blocked = os.path.realpath(result_path)

def refuse(event, args):
    if event in ("os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.kill",
                 "os.killpg", "subprocess.Popen", "ctypes.dlopen", "ctypes.cdata", "socket.__new__",
                 "socket.connect", "socket.bind", "socket.getaddrinfo", "os.putenv", "os.chdir", "os.remove",
                 "os.rename", "os.rmdir", "shutil.rmtree", "os.truncate"):
        raise PermissionError(f"not allowed in the sandbox: {event}")
    if event == "open":
        path = args[0]
        if isinstance(path, int):
            return
        real = os.path.realpath(os.fsdecode(path))
        if real == blocked:
            raise PermissionError("not allowed in the sandbox: the result file")
        writing = isinstance(args[1], str) and any(m in args[1] for m in "wax+")
        if not real.startswith(root + os.sep) and (writing or not real.startswith(allowed_read)):
            raise PermissionError(f"not allowed in the sandbox: open {path!r}")

sys.addaudithook(refuse)
sys.path.insert(0, root)
outcomes = []
try:
    import test_submission as tests
except BaseException as exc:  # noqa: BLE001 - a syntax error or a crash while importing the learner's code
    result_file.write(json.dumps({"crashed": "".join(traceback.format_exception_only(type(exc), exc)).strip()}))
    result_file.close()
    sys.exit(0)
def cases(name, fn):
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

for name in sorted(n for n in vars(tests) if n.startswith("test_") and callable(getattr(tests, n))):
    for label, kwargs in cases(name, getattr(tests, name)):
        try:
            getattr(tests, name)(**kwargs)
            outcomes.append([label, True, ""])
        except MemoryError:
            outcomes.append([label, False, "MemoryError: the memory limit was reached"])
        except AssertionError as exc:
            outcomes.append([label, False, ("AssertionError: " + str(exc))[:500]])
        except BaseException as exc:  # noqa: BLE001
            outcomes.append([label, False, f"{type(exc).__name__}: {exc}"[:500]])
result_file.write(json.dumps({"tests": outcomes}))
result_file.close()
"""


def _stdlib_paths() -> list[str]:
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    return sorted(os.path.realpath(p) for p in paths)


def _limit(limits: SandboxLimits) -> None:
    """Runs in the child between fork and exec."""
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes * 4, limits.output_bytes * 4))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the group and drain the pipe: asyncio only reports the exit once the pipe reaches EOF, and a
    reader paused on a full buffer never sees it."""
    _kill_group(process.pid)
    if process.stdout is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_discard(process.stdout), timeout=5)
    await process.wait()


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    data = b""
    while chunk := await stream.read(65536):
        data += chunk
        if len(data) > cap:
            return data[:cap], True
    return data, False


def _result(status: Status, started: float, stdout: bytes = b"", detail: str = "",
            tests: tuple[TestOutcome, ...] = ()) -> SandboxResult:  # fmt: skip
    passed = sum(1 for t in tests if t.passed)
    return SandboxResult(
        status=status,
        tests=tests,
        passed=passed,
        total=len(tests),
        stdout=stdout.decode(errors="replace"),
        detail=detail,
        duration_ms=(time.monotonic() - started) * 1000,
    )


async def run_code_tests(code: str, tests: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lyceum-sandbox-") as workdir:
        root = Path(workdir)
        (root / "submission.py").write_text(code, encoding="utf-8")
        (root / "test_submission.py").write_text(tests, encoding="utf-8")
        (root / "_runner.py").write_text(RUNNER, encoding="utf-8")
        (root / "pytest.py").write_text(PYTEST_SHIM, encoding="utf-8")
        result_path = root / f".result-{secrets.token_hex(16)}"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", "-B", str(root / "_runner.py"), str(result_path), str(root), *_stdlib_paths(),
            cwd=root,
            env={"PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0"},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _limit(limits),  # runs between fork and exec; the child starts no threads
        )  # fmt: skip
        assert process.stdout is not None
        try:
            stdout, overflow = await asyncio.wait_for(
                _read_capped(process.stdout, limits.output_bytes), timeout=limits.wall_seconds
            )
        except TimeoutError:
            await _stop(process)
            return _result("timeout", started, detail=f"stopped after {limits.wall_seconds:g} s of wall-clock time")
        if overflow:
            await _stop(process)
            return _result("output_limit", started, stdout, f"printed more than {limits.output_bytes} bytes")
        code_ = await process.wait()
        _kill_group(process.pid)  # anything the learner's code left running in its group
        return _interpret(code_, stdout, result_path, started)


def _interpret(returncode: int, stdout: bytes, result_path: Path, started: float) -> SandboxResult:
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return _result("timeout", started, stdout, "the CPU-time limit was reached")
    if b"MemoryError" in stdout and returncode != 0:
        return _result("memory", started, stdout, "the memory limit was reached")
    raw = _read_result(result_path)
    if raw is None:
        return _result("error", started, stdout, f"the test run ended without a result (exit code {returncode})")
    if "crashed" in raw:
        return _result("crashed", started, stdout, str(raw["crashed"])[:2000])
    listed = raw.get("tests", [])
    outcomes = tuple(TestOutcome(str(n), bool(p), str(m)) for n, p, m in (listed if isinstance(listed, list) else []))
    if any("memory limit" in t.message for t in outcomes if not t.passed):
        return _result("memory", started, stdout, "the memory limit was reached", outcomes)
    return _result("ok", started, stdout, "", outcomes)


def _read_result(result_path: Path) -> dict[str, object] | None:
    try:
        raw = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None
