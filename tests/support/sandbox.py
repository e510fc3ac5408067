"""Process bookkeeping for the sandbox tests: fast limits, the descendants of this process, and the check
that a run left nothing running."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from app.domain.grading.sandbox import SandboxLimits

# Wall-clock deadlines are generous so a loaded machine cannot turn a pass into a timeout; the CPU limit
# is what stops spinning code.
FAST = SandboxLimits(cpu_seconds=2, wall_seconds=30, memory_mb=256, output_bytes=20_000)


def descendants() -> set[int]:
    """Processes started (directly or not) by this test process: what a run must not leave behind."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    mine, me = set(), os.getpid()
    for pid in parents:
        seen, current = 0, pid
        while current in parents and seen < 64:
            current, seen = parents[current], seen + 1
            if current == me:
                mine.add(pid)
                break
    return mine


async def nothing_left_running(before: set[int]) -> None:
    """Processes of a finished run disappear (the kernel may take a moment to reap them)."""
    deadline = time.monotonic() + 20
    while (left := descendants() - before) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling /proc
        await asyncio.sleep(0.05)
    assert not left, f"sandbox processes left running: {left}"
