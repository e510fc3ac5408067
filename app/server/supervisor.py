"""Keep ``lyceum up``'s processes running: the embedded PostgreSQL and Redis, the API and the worker.

The supervisor polls each component; when one has died it logs ``component_down`` and starts it again
after an exponential backoff (0.5 s, 1 s, 2 s … at most 30 s; the count resets once the component has
stayed up for a minute), logging ``component_restarted`` or ``component_restart_failed``. A component
restarts in place: Redis on the same port, PostgreSQL on the same socket, the API on the same address,
so nothing else has to be told. While one is down, ``/ready`` answers 503 because its own check of
PostgreSQL and Redis fails; nothing here has to tell the API.

It is a plain polling loop on ``lyceum up``'s main thread: restarts are rare and short, and a loop that
blocks for the seconds PostgreSQL needs to come back is simpler than threads that could race each other.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger("lyceum.supervisor")

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGTERM when the process that started it dies, even
    by SIGKILL (Linux ``PR_SET_PDEATHSIG``). Without it a killed ``lyceum up`` leaves its API holding the
    port and its Redis writing the data dir. Elsewhere there is no such call: None.

    The signal follows the *thread* that started the child: start children from a thread that lives as
    long as they should (``lyceum up`` and the test suite start them from the main thread)."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class Component(Protocol):
    """What the supervisor needs from a process it looks after."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def alive(self) -> bool: ...

    def exit_detail(self) -> str: ...

    def restart(self) -> object: ...


@dataclass
class ChildProcess:
    """A Python child of ``lyceum up`` (the API or the worker)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.argv, env=self.env, preexec_fn=die_with_parent())
        return self.process

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_detail(self) -> str:
        code = None if self.process is None else self.process.returncode
        return f"exited with code {code}"

    def restart(self) -> subprocess.Popen[bytes]:
        return self.start()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        """After :meth:`terminate`: wait for a clean exit, then kill."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class _Watch:
    component: Component
    up_since: float
    failures: int = 0  # restarts since the component last stayed up for `stable_after`
    down_since: float | None = None
    retry_at: float = 0.0


@dataclass
class Supervisor:
    components: Sequence[Component]
    base_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _watches: list[_Watch] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = self.clock()
        self._watches = [_Watch(component, up_since=now) for component in self.components]

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** min(failures, 16)))

    def down(self) -> list[str]:
        """Names of the components that are down right now (waiting for, or failing, a restart)."""
        return [w.component.name for w in self._watches if w.down_since is not None]

    def check(self) -> None:
        """One pass: notice deaths, restart what is due."""
        for watch in self._watches:
            now = self.clock()
            component = watch.component
            if watch.down_since is None:
                if component.alive():
                    if watch.failures and now - watch.up_since >= self.stable_after:
                        watch.failures = 0
                    continue
                watch.down_since = now
                watch.retry_at = now + self.delay(watch.failures)
                log.warning(
                    "component_down",
                    component=component.name,
                    pid=component.pid,
                    detail=component.exit_detail(),
                    restart_in_seconds=round(watch.retry_at - now, 2),
                )
                continue
            if now < watch.retry_at:
                continue
            watch.failures += 1
            try:
                component.restart()
            except Exception as exc:  # any failure to start is retried later, never fatal to `lyceum up`
                delay = self.delay(watch.failures)
                watch.retry_at = self.clock() + delay
                log.error(
                    "component_restart_failed",
                    component=component.name,
                    attempt=watch.failures,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_seconds=delay,
                )
                continue
            restarted = self.clock()
            log.warning(
                "component_restarted",
                component=component.name,
                pid=component.pid,
                attempt=watch.failures,
                down_seconds=round(restarted - watch.down_since, 2),
            )
            watch.down_since = None
            watch.up_since = restarted


@dataclass
class LoggedChildProcess(ChildProcess):
    """A child whose output goes to a log file instead of the console (the Chroma server under `lyceum up`:
    its start-up banner and request lines are not Lyceum's)."""

    log_path: Path | None = None

    def start(self) -> subprocess.Popen[bytes]:
        if self.log_path is None:
            return super().start()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
            )
        return self.process
