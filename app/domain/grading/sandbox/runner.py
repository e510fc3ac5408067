"""Run a learner's Python against hidden tests: two sandboxed processes joined only by the bridge.

- the **learner** process runs ``submission.py`` and answers requests about it;
- the **harness** process runs the hidden tests (``test_submission.py``) and writes the result to an
  in-memory file only it holds.

Each runs in its own bubblewrap sandbox (isolation.py), so the learner's code can neither reach the harness
(other pid, mount and network namespaces) nor forge its result; values cross as plain data (guest/bridge.py).
The parent enforces the wall-clock deadline and the output cap and kills both sandboxes at the end.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from .isolation import (
    GUEST_DIR,
    GUEST_MOUNT,
    Isolation,
    SandboxPolicy,
    bwrap_argv,
    isolation_for,
    memfd_with,
    python_executable,
    seccomp_program,
)

log = structlog.get_logger("lyceum.sandbox")

Status = Literal["ok", "timeout", "memory", "output_limit", "crashed", "error"]
# Exit statuses of a process stopped at the CPU limit (SIGXCPU at the soft limit, SIGKILL at the hard one),
# as the parent sees them directly (-N) and as bubblewrap reports its child's (128 + N).
_STOPPED = {-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL}


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    memory_mb: int = 256
    output_bytes: int = 64_000
    # Tasks (threads) of the sandbox uid; process creation is refused by the seccomp filter anyway.
    processes: int = 64


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One hidden test (or parametrized case). ``message`` may be shown to the learner; the rest of a failure
    (the assertion's text, what was expected and what came back, the case's parameters) is for staff, or for
    the learner only when the tests are visible ones: shown to a learner, hidden tests' values give answers away."""

    __test__ = False  # not a pytest test class
    name: str
    passed: bool
    message: str
    assertion: str = ""
    expected: str = ""
    actual: str = ""
    params: str = ""


@dataclass(frozen=True, slots=True)
class SandboxResult:
    status: Status
    tests: tuple[TestOutcome, ...]
    passed: int
    total: int
    stdout: str
    detail: str
    duration_ms: float
    isolation: str = "isolated"


def _test_names(tests: str) -> list[str]:
    """Top-level ``test_*`` functions, in source order; the parent decides what must be reported."""
    tree = ast.parse(tests, filename="test_submission.py")
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    ]


async def run_code_tests(
    code: str, tests: str, limits: SandboxLimits = SandboxLimits(), policy: SandboxPolicy = SandboxPolicy()
) -> SandboxResult:
    """Run ``tests`` against ``code`` (the learner's ``submission.py``) in the sandbox.

    ``status == "ok"`` means the run finished; how many tests passed is in ``passed``/``total``. Raises
    ``SandboxUnavailable`` when the sandbox cannot be built here and the policy does not allow the unsafe mode."""
    started = time.monotonic()
    try:
        names = _test_names(tests)
    except SyntaxError as exc:
        return _result("error", started, detail=f"the hidden tests do not compile: {exc.msg} (line {exc.lineno})")
    if not names:
        return _result("error", started, detail="the hidden tests define no test_* functions")
    isolation = await isolation_for(policy)
    if isolation.mode == "unsafe":
        log.warning("sandbox_unsafe_run", warning="learner code ran WITHOUT isolation (development setting)")
    run = _Run(isolation, policy, limits, started)
    try:
        return await run.execute(code, tests, names)
    finally:
        await run.close()


class _Run:
    """One grading run: the two processes, their descriptors, and the decision about what happened."""

    def __init__(self, isolation: Isolation, policy: SandboxPolicy, limits: SandboxLimits, started: float) -> None:
        self.isolation, self.policy, self.limits, self.started = isolation, policy, limits, started
        self.fds: list[int] = []
        self.processes: list[asyncio.subprocess.Process] = []
        self.output = bytearray()

    async def execute(self, code: str, tests: str, names: list[str]) -> SandboxResult:
        harness_end, learner_end = socket.socketpair()
        result_fd = self._fd(os.memfd_create("lyceum-result", os.MFD_CLOEXEC))
        harness_log = self._fd(os.memfd_create("lyceum-harness-log", os.MFD_CLOEXEC))
        with harness_end, learner_end:
            async with self._scratch() as scratch:
                learner = await self._start(
                    "learner", {"code": code, "bridge_fd": learner_end.fileno()}, scratch, learner_end.fileno()
                )
                harness_job = {"tests": tests, "tests_names": names, "bridge_fd": harness_end.fileno()}
                harness_job["result_fd"] = result_fd
                harness = await self._start(
                    "harness", harness_job, scratch, harness_end.fileno(), result_fd, log=harness_log
                )
                learner_end.close()  # only the two sandboxes hold the bridge now: either leaving ends it
                harness_end.close()
                return await self._supervise(learner, harness, result_fd, harness_log, names)

    @contextlib.asynccontextmanager
    async def _scratch(self) -> AsyncIterator[str | None]:
        """A host working directory, only in the unsafe mode (the sandbox's /work is an in-memory tmpfs)."""
        if self.isolation.mode == "isolated":
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="lyceum-sandbox-") as directory:
            yield directory

    def _fd(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    async def _start(
        self, role: str, job: dict[str, Any], scratch: str | None, *pass_fds: int, log: int | None = None
    ) -> asyncio.subprocess.Process:
        limits = self.limits
        cpu = max(1, math.ceil(limits.cpu_seconds))
        memory = limits.memory_mb * 1024 * 1024
        job["limits"] = {
            "cpu_seconds": cpu,
            "memory_bytes": memory,
            "file_bytes": max(limits.output_bytes * 4, 1 << 20),
            "processes": limits.processes,
        }
        fds = list(pass_fds)
        if self.isolation.mode == "isolated":
            if self.isolation.privileged:
                job["uid"], job["gid"] = self.policy.uid, self.policy.gid
            seccomp_fd = self._fd(memfd_with("lyceum-seccomp", seccomp_program()))
            fds.append(seccomp_fd)
            prefix, guest_parent, cwd = bwrap_argv(self.isolation, self.policy, seccomp_fd), GUEST_MOUNT, None
        else:
            prefix, guest_parent, cwd = [], str(GUEST_DIR.parent), scratch
        # The marker in the program text lets tests and operators find leftover sandbox processes.
        program = (
            f"import sys; sys.path[:0] = [{guest_parent!r}]; from guest.{role} import main; main()  # lyceum-sandbox"
        )
        sink: int = asyncio.subprocess.PIPE if log is None else log
        process = await asyncio.create_subprocess_exec(
            *prefix, python_executable(), "-I", "-S", "-B", "-X", "utf8", "-c", program,
            stdin=asyncio.subprocess.PIPE,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            env={},  # nothing inherited: no DATABASE_URL, API keys or secret keys
            cwd=cwd,
            pass_fds=tuple(fds),
            start_new_session=True,  # its own process group, killed as a whole
        )  # fmt: skip
        self.processes.append(process)
        assert process.stdin is not None
        process.stdin.write(json.dumps(job).encode())
        with contextlib.suppress(ConnectionError):
            await process.stdin.drain()
        process.stdin.close()
        return process

    async def _supervise(
        self,
        learner: asyncio.subprocess.Process,
        harness: asyncio.subprocess.Process,
        result_fd: int,
        harness_log: int,
        names: list[str],
    ) -> SandboxResult:
        assert learner.stdout is not None
        reader = asyncio.ensure_future(_read_capped(learner.stdout, self.output, self.limits.output_bytes))
        finished = asyncio.ensure_future(harness.wait())
        deadline = self.started + self.limits.wall_seconds
        try:
            done, _ = await asyncio.wait(
                {reader, finished}, timeout=max(0.0, deadline - time.monotonic()), return_when="FIRST_COMPLETED"
            )
            if reader in done and reader.result():
                return self._result("output_limit", f"printed more than {self.limits.output_bytes} bytes")
            if finished not in done:
                await asyncio.wait({finished}, timeout=max(0.0, deadline - time.monotonic()))
            if not finished.done():
                return self._result("timeout", f"stopped after {self.limits.wall_seconds:g} s of wall-clock time")
            # The learner's process leaves by itself once the harness has gone; one that does not is killed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(learner.wait()), timeout=1.0)
            learner_stopped = learner.returncode in _STOPPED
            await self._stop_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), timeout=2.0)
            if reader.done() and not reader.cancelled() and reader.result():
                return self._result("output_limit", f"printed more than {self.limits.output_bytes} bytes")
            return self._interpret(harness.returncode, learner_stopped, result_fd, harness_log, names)
        finally:
            reader.cancel()
            finished.cancel()

    def _interpret(
        self, returncode: int | None, learner_stopped: bool, result_fd: int, harness_log: int, names: list[str]
    ) -> SandboxResult:
        raw = _read_json(result_fd)
        if raw is None:
            log_tail = _read_tail(harness_log)
            if returncode in _STOPPED:
                return self._result("timeout", "the CPU-time limit was reached")
            if learner_stopped:
                return self._result("timeout", "the CPU-time limit was reached")
            if "MemoryError" in log_tail:
                return self._result("memory", "the memory limit was reached")
            return self._result("error", f"the test run ended without a valid result (exit {returncode}): {log_tail}")
        if learner_stopped:
            return self._result("timeout", "the CPU-time limit was reached")
        if "memory" in raw:
            return self._result("memory", f"the memory limit was reached: {raw['memory']}")
        if "crashed" in raw:
            return self._result("crashed", str(raw["crashed"]))
        outcomes = _outcomes(raw.get("tests"), names)
        if outcomes is None:
            return self._result("error", "the test run reported results that do not match the hidden tests")
        if any(t.message.startswith("MemoryError") for t in outcomes):
            return self._result("memory", "the memory limit was reached", outcomes)
        return self._result("ok", "", outcomes)

    def _result(self, status: Status, detail: str = "", tests: tuple[TestOutcome, ...] = ()) -> SandboxResult:
        return _result(status, self.started, self.output, detail, tests, self.isolation.mode)

    async def _stop_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=5)

    async def close(self) -> None:
        """Leave nothing running and nothing open, whatever happened (cancellation included)."""
        await asyncio.shield(self._stop_all())
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


async def _read_capped(stream: asyncio.StreamReader, into: bytearray, cap: int) -> bool:
    """Read into ``into`` until EOF; True as soon as the output goes over ``cap`` (the excess is dropped)."""
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        into += chunk[: max(0, cap - len(into))]
        if total > cap:
            return True
    return False


def _read_json(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
        raw = json.loads(data)
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _read_tail(fd: int, size: int = 2000) -> str:
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, max(0, end - size), os.SEEK_SET)
        return os.read(fd, size).decode(errors="replace").strip()
    except OSError:
        return ""


def _result(
    status: Status,
    started: float,
    stdout: bytes | bytearray = b"",
    detail: str = "",
    tests: tuple[TestOutcome, ...] = (),
    isolation: str = "isolated",
) -> SandboxResult:
    return SandboxResult(
        status=status,
        tests=tests,
        passed=sum(1 for t in tests if t.passed),
        total=len(tests),
        stdout=bytes(stdout).decode(errors="replace"),
        detail=detail,
        duration_ms=(time.monotonic() - started) * 1000,
        isolation=isolation,
    )


def _outcomes(listed: object, names: list[str]) -> tuple[TestOutcome, ...] | None:
    """Validate the reported outcomes: every hidden test exactly once (parametrized cases as ``name[i]``)."""
    if not isinstance(listed, list):
        return None
    outcomes: list[TestOutcome] = []
    for entry in listed:
        if not (isinstance(entry, list) and len(entry) in (3, 4) and isinstance(entry[0], str)):
            return None
        name, passed, message = entry[:3]
        detail = entry[3] if len(entry) == 4 else {}
        if not isinstance(passed, bool) or not isinstance(message, str) or not isinstance(detail, dict):
            return None
        fields = {key: str(detail.get(key, ""))[:500] for key in ("assertion", "expected", "actual", "params")}
        outcomes.append(TestOutcome(name, passed, message, **fields))
    labels = [t.name for t in outcomes]
    if len(set(labels)) != len(labels) or {label.partition("[")[0] for label in labels} != set(names):
        return None
    return tuple(outcomes)
