"""Every core busy, once per machine: a pool of CPU-bound processes shared by every module that asks.

Recovery tests (a killed worker, a restarted ``lyceum up``) run with every core busy, so every run
exercises the loaded case. With two xdist workers, two such modules often overlap; each spawning its own
hogs put four busy loops on two cores and made both modules (and everything else running) twice as slow
for no extra coverage. So the hogs are one machine-wide pool: the first holder spawns one per core, later
holders join it, and the hogs stop when no holder is alive (the last holder kills them; a hog also exits
by itself within two seconds once every recorded holder process is gone, so a crashed run leaves none).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE = Path(tempfile.gettempdir()) / f"lyceum-cpu-hog-{os.getuid()}.json"
LOCK = STATE.with_suffix(".lock")

# The hog: busy, and every 2 s it checks that some holder recorded in the state file is still alive.
_HOG = """
import json, os, sys, time
state = sys.argv[1]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
checked = 0.0
while True:
    now = time.monotonic()
    if now - checked > 2.0:
        checked = now
        try:
            with open(state) as f:
                holders = json.load(f).get("holders", [])
        except (OSError, ValueError):
            holders = []
        if not any(alive(pid) for pid in holders):
            break
    sum(range(100_000))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with LOCK.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read() -> dict[str, Any]:
    try:
        state = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return {"holders": [], "hogs": []}
    return state if isinstance(state, dict) else {"holders": [], "hogs": []}


def _write(state: dict[str, Any]) -> None:
    tmp = STATE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(STATE)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def hog_count() -> int:
    """One busy loop per core, less the cores the suite's other xdist workers already keep busy: with two
    workers on two cores, one hog plus the other worker's tests leave no core idle, and a second hog would only
    halve everyone's speed (the recovery tests' deadlines are what the load is for, not the CPU time)."""
    cores = os.cpu_count() or 2
    other_workers = max(0, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) - 1)
    return max(1, cores - other_workers)


@contextlib.contextmanager
def every_core_busy() -> Iterator[int]:
    """Hold the machine-wide pool for the block; yields the number of hog processes."""
    me = os.getpid()
    with _locked():
        state = _read()
        holders = [pid for pid in state.get("holders", []) if _alive(pid) and pid != me]
        hogs = [pid for pid in state.get("hogs", []) if _alive(pid)]
        if not holders:  # nobody holds the pool: any hogs left are a crashed run's
            _kill(hogs)
            hogs = []
        holders.append(me)
        _write({"holders": holders, "hogs": hogs})  # before spawning: a new hog must see a live holder
        if not hogs:
            hogs = [
                subprocess.Popen([sys.executable, "-c", _HOG, str(STATE)], start_new_session=True).pid
                for _ in range(hog_count())
            ]
            _write({"holders": holders, "hogs": hogs})
    try:
        yield len(hogs)
    finally:
        with _locked():
            state = _read()
            remaining = [pid for pid in state.get("holders", []) if pid != me and _alive(pid)]
            live_hogs = [pid for pid in state.get("hogs", []) if _alive(pid)]
            if not remaining:
                _kill(live_hogs)
                live_hogs = []
            _write({"holders": remaining, "hogs": live_hogs})
