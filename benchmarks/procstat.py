"""What the benchmarks read from /proc: CPU time, resident memory, the process tree, the load average.

CPU time per operation is the figure that moves least when other processes share the cores (ratios of
wall-clock rates swing with the load); every benchmark reads it the same way, from here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")  # clock ticks per second: CPU times are counted in 10 ms ticks


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pid: int, *, tree: bool = False, reaped: bool = False) -> float:
    """user + system CPU time of ``pid`` and its threads (/proc/PID/stat fields 14 and 15), in seconds;
    ``reaped`` adds the children it already waited for (fields 16 and 17), ``tree`` its live descendants.
    A process gone meanwhile counts nothing."""
    last = 15 if reaped else 13
    ticks = 0
    for current in process_tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:last])
    return ticks / TICK


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 if it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as /proc/loadavg prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
