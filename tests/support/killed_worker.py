"""The killed-worker drills' parts (tests/integration/*/test_killed_worker.py): real ``lyceum worker``
processes a drill SIGKILLs mid-job, the waits on conditions it recovers by, and "Redis lost the job too".

A worker runs in a session (and process group) of its own, so a kill takes its children with it and never
reaches pytest. Every wait is on a condition; ``DEADLINE`` only bounds a run that has already failed: a dead
worker's job is retried once its heartbeat goes stale, and starting a worker on a busy machine (``cpu_hog``)
can take tens of seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.lib.jobs import QUEUE_NAME
from app.lib.redis import create_redis

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 240.0  # seconds


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m app.cli worker`` with ``env`` over this process's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown hooks, no cleanup; its job is left "active" in Redis with a stopped heartbeat."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=60)


def stop(*workers: subprocess.Popen[bytes] | None) -> None:
    """Stop the workers still running, gently first (teardown: their kill, if any, already happened)."""
    for worker in workers:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


async def until(condition: Callable[[], Awaitable[bool]], what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(poll)


async def forget_queue(redis_url: str, redis_key_prefix: str) -> None:
    """Redis loses the queue (data loss, or an embedded Redis that kept nothing): every job of the queue of
    ``redis_key_prefix`` is gone, the dead worker's included, so only a database sweep can bring it back."""
    queue = f"{redis_key_prefix}{QUEUE_NAME}"
    redis = create_redis(redis_url)
    try:
        for pattern in (f"saq:{queue}:*", f"saq:job:{queue}:*"):
            async for key in redis.scan_iter(match=pattern, count=1000):
                await redis.delete(key)
    finally:
        await redis.aclose()
