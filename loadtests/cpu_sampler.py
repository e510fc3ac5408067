"""CPU per Lyceum process kind during a load run, from /proc (Linux): which process saturates.

    uv run python loadtests/cpu_sampler.py --root <lyceum up pid> --root <postmaster pid> > cpu.csv  # Ctrl-C

Only the given processes and their descendants are counted (the machine may run other things: another
checkout's servers, a test suite); the postmaster is a root of its own because pg_ctl starts it in a
session of its own (``<data dir>/postgres/postmaster.pid``, first line). Add locust's pid to see its share.

Every interval, one CSV line per kind: time, kind, % of one core used in the interval (summed over the
kind's processes, so 200 = both cores of a 2-core machine), process count, and the machine's load average.
Kinds are read from the command lines: api (app.server.api_process), worker (app.cli worker), supervisor
(app.cli up or the lyceum up console script), postgres, redis, chroma, locust, fake_model; everything else is "other".
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

KINDS = (
    ("api", "app.server.api_process"),
    ("worker", "app.cli worker"),
    ("supervisor", "app.cli up"),
    ("supervisor", "lyceum up"),  # the console script (`uv run lyceum up`), as the docs start it
    ("locust", "locust"),
    ("fake_model", "fake_model.py"),
    ("chroma", "chroma"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)
TICKS = os.sysconf("SC_CLK_TCK")


def kind_of(cmdline: str) -> str:
    return next((kind for kind, marker in KINDS if marker in cmdline), "other")


def snapshot(roots: set[int]) -> dict[int, tuple[str, int]]:
    """pid → (kind, CPU ticks used so far), for the roots and their descendants."""
    found: dict[int, tuple[str, int]] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (kind_of(cmdline), int(fields[11]) + int(fields[12]))  # utime + stime
        parents[int(entry.name)] = int(fields[1])

    def inside(pid: int) -> bool:
        for _ in range(64):
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
            if pid <= 1:
                return False
        return False

    return {pid: value for pid, value in found.items() if inside(pid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--root", type=int, action="append", required=True, help="a process to count, with its tree")
    args = parser.parse_args()
    roots = set(args.root)
    print("time,kind,cpu_percent,processes,load1", flush=True)
    before, started = snapshot(roots), time.monotonic()
    while True:
        time.sleep(args.interval)
        after, now = snapshot(roots), time.monotonic()
        elapsed = now - started
        used: dict[str, float] = {}
        count: dict[str, int] = {}
        for pid, (kind, ticks) in after.items():
            previous = before.get(pid, (kind, ticks if pid in before else 0))[1]
            used[kind] = used.get(kind, 0.0) + (ticks - previous) / TICKS
            count[kind] = count.get(kind, 0) + 1
        stamp = time.strftime("%H:%M:%S")
        load1 = os.getloadavg()[0]
        for kind in sorted(used):
            print(f"{stamp},{kind},{100 * used[kind] / elapsed:.0f},{count[kind]},{load1:.2f}", flush=True)
        before, started = after, now


if __name__ == "__main__":
    main()
