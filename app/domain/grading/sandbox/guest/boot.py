"""Start of a sandboxed process, before any untrusted code runs: read the job, set limits, give up root.

The job arrives as JSON on stdin (then closed), so nothing about it is on a command line or in a file the
untrusted code could read later. Limits are set here rather than by the parent before exec, because the
parent is a multi-threaded worker where running Python between fork and exec is unsafe.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any


def start() -> dict[str, Any]:
    raw = bytearray()
    while chunk := os.read(0, 1 << 16):
        raw += chunk
    job: dict[str, Any] = json.loads(raw)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # input() sees end of file, not the job
    os.close(null)
    _limit(job["limits"])
    if job.get("uid") is not None:
        _drop_privileges(int(job["uid"]), int(job["gid"]))
    # Line by line, so what was printed before a limit stopped the process still reaches the learner.
    sys.stdout.reconfigure(errors="backslashreplace", line_buffering=True)  # type: ignore[union-attr]
    return job


def _limit(limits: dict[str, int]) -> None:
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid: int, gid: int) -> None:
    """Inside the sandbox the process starts as root only when the worker runs as root (bubblewrap then needs
    no user namespace); it becomes an unprivileged uid here, which clears every capability it had."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise SystemExit("the sandbox could not give up root")
