"""Live review feed fan-out: latency from publish to receipt with many connected instructors.

    uv run python benchmarks/feed_fanout.py [--subscribers 500] [--events 200] [--interval 0.1]
                                             [--api-processes 1] [--clients 4] [--runs 3] [--no-pin]

Starts the Lyceum API as `lyceum up` starts each of its API processes (``--api-processes`` of them, each
on a port of its own so the sockets are split evenly; all sharing Redis and PostgreSQL), opens
``--subscribers`` instructor WebSockets on ``/v1/review/feed`` spread over ``--clients`` driver processes
(so the driver's own frame parsing is spread too) and over the API processes, then, ``--runs`` times in a
row on the same sockets, publishes ``--events`` events through the EventBus, one every ``--interval``
seconds (after ``--warmup`` unmeasured ones): real ``submission.graded`` payloads, each stamped with its
wall-clock publish time (``at``). Every subscriber records receipt time minus ``at`` (same host, same
clock). Per run it prints p50/p99/max over all (event, subscriber) pairs, the mean publish-to-hub lag the
API processes report (``lyceum_events_delivery_lag_seconds``), the API processes' CPU time per event and
per delivery (user+sys from /proc over the run: stable on a loaded machine where latency is not) and the
load average.

Pinning (default on Linux with 2+ cores, ``--no-pin`` to turn off): with one API process, the API has
CPU 0 and everything else (Redis, PostgreSQL, the drivers and the publisher) the other CPUs; with as many
API processes as CPUs, API process n has CPU n and the rest float. Other load on the machine is not
pinned: record ``uptime`` beside the figures.
Uses DATABASE_URL/REDIS_URL when set, else embedded servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from app.config import load_settings
from app.db.bootstrap import migrate
from app.lib.events import REVIEW_DECIDED, SUBMISSION_GRADED, EventBus, ReviewDecided, SubmissionGraded
from app.lib.redis import create_redis
from app.seed import seed
from app.server.embedded import EmbeddedStack, free_port
from benchmarks.procstat import cpu_seconds, load_average, rss_kib

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "lyceum-bench:"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def _subscribe(urls: list[str], token: str, count: int, ready: Any, results: Any) -> None:
    # (run label, latency) per measured delivery; the label is the event's ``grader`` ("run-1" ...).
    latencies: list[tuple[str, float]] = []
    headers = {"Authorization": f"Bearer {token}"}

    # Sockets open a few at a time with a long handshake timeout: on a loaded machine 500 handshakes at
    # once time out (websockets' default is 10 s), and connecting is not what is measured.
    opening = asyncio.Semaphore(16)

    async def one(url: str) -> None:
        feed = f"{url.replace('http', 'ws')}/v1/review/feed?limit=0"
        async with opening:
            ws = await connect(feed, additional_headers=headers, open_timeout=300, ping_interval=None)
            while json.loads(await ws.recv())["type"] != "ready":
                pass
        ready.put(1)
        async with ws:
            while True:
                frame = json.loads(await ws.recv())
                received = time.time()
                if frame["type"] == SUBMISSION_GRADED and frame["data"]["grader"] != "warmup":
                    # ``at`` is stamped by publish(): publish to this client's receipt.
                    at = datetime.fromisoformat(frame["at"]).timestamp()
                    latencies.append((frame["data"]["grader"], received - at))
                elif frame["type"] == REVIEW_DECIDED:  # the driver's "stop"
                    return

    await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(count)))
    results.put(latencies)


def _graded(grader: str, score: float = 0.0) -> SubmissionGraded:
    """A realistic event (the size of a real one); ``grader="warmup"`` marks the unmeasured ones."""
    ids = [uuid.uuid4() for _ in range(4)]
    return SubmissionGraded(
        submission_id=ids[0],
        course_id=ids[1],
        item_id=ids[2],
        user_id=ids[3],
        score=score,
        max_score=1.0,
        graded_by="ai",
        grader=grader,
    )


def _client(urls: list[str], token: str, count: int, ready: Any, results: Any, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    asyncio.run(_subscribe(urls, token, count, ready, results))


def _start_api(port: int, env: dict[str, str], deflate: bool, cpus: set[int] | None) -> subprocess.Popen[bytes]:
    # As `lyceum up` runs each API process (app/cli.py): uvicorn through app.server.api_process. Pinned
    # before it starts, so every thread it starts later inherits the same CPUs.
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "app.server.api_process", "app.asgi:create_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"),
            *("--ws", "websockets-sansio", "--ws-per-message-deflate", str(deflate).lower()),
        ],
        env=env,
        cwd=ROOT,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (and their finished, waited-for children)."""
    return sum(cpu_seconds(pid, reaped=True) for pid in pids)


def _rss_mib(pid: int) -> float:
    return round(rss_kib(pid) / 1024, 1)


def _layout(api_processes: int, pin: bool) -> tuple[list[set[int] | None], set[int] | None]:
    """CPUs per API process and CPUs for everything else (None: not pinned)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(cpus) < 2:
        return [None] * api_processes, None
    if api_processes == 1:
        return [{cpus[0]}], set(cpus[1:])
    return [{cpus[n % len(cpus)]} for n in range(api_processes)], None


def _hub_lag_ms(urls: list[str]) -> float:
    total = count = 0.0
    for url in urls:
        for line in httpx.get(f"{url}/metrics").text.splitlines():
            if line.startswith("lyceum_events_delivery_lag_seconds_sum"):
                total += float(line.split()[-1])
            elif line.startswith("lyceum_events_delivery_lag_seconds_count"):
                count += float(line.split()[-1])
    return total / count * 1000 if count else float("nan")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    api_cpus, other_cpus = _layout(args.api_processes, args.pin)
    if other_cpus:
        os.sched_setaffinity(0, other_cpus)  # this process (publisher) and what it starts: Redis, PostgreSQL
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-feed-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "LYCEUM_REDIS_KEY_PREFIX": PREFIX,
        "LYCEUM_RATE_LIMIT_LOGIN_USER": "100000/1s",
        # An API starved of CPU by other load falls behind instead of dropping sockets as slow consumers
        # (which ends the run): its lag then shows in the latencies.
        "LYCEUM_FEED_QUEUE_SIZE": "100000",
    }
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    await migrate(settings)
    await seed(settings)
    ports = [free_port() for _ in range(args.api_processes)]
    apis = [_start_api(port, env, args.deflate, cpus) for port, cpus in zip(ports, api_cpus, strict=True)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    clients: list[Any] = []
    redis = create_redis(redis_url)
    bus = EventBus(redis, PREFIX)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for url in urls:
                for _ in range(3000):
                    try:
                        if (await http.get(f"{url}/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
            login = await http.post(
                f"{urls[0]}/v1/auth/login",
                json={"email": "instructor@demo.test", "password": "lyceum-demo", "org": "demo"},
            )
            token = login.json()["access_token"]
            me = await http.get(f"{urls[0]}/v1/me", headers={"Authorization": f"Bearer {token}"})
            org = uuid.UUID(me.json()["org_id"])
        ready: Any = multiprocessing.Queue()
        results: Any = multiprocessing.Queue()
        share = [args.subscribers // args.clients + (i < args.subscribers % args.clients) for i in range(args.clients)]
        for count in share:
            process = multiprocessing.Process(
                target=_client, args=(urls, token, count, ready, results, other_cpus), daemon=True
            )
            process.start()
            clients.append(process)
        for _ in range(args.subscribers):
            ready.get(timeout=300)
        await asyncio.sleep(1)
        pids = [api.pid for api in apis]
        runs: list[dict[str, Any]] = []
        for run in range(1, args.runs + 1):
            # First sends on fresh sockets and cold code paths are not the steady state: warm up, unmeasured.
            for _ in range(args.warmup):
                await bus.publish(org, _graded("warmup"))
                await asyncio.sleep(args.interval)
            cpu_before, load_before = _cpu_seconds(pids), load_average()
            for seq in range(args.events):
                await bus.publish(org, _graded(f"run-{run}", score=seq))
                await asyncio.sleep(args.interval)
            cpu = _cpu_seconds(pids) - cpu_before
            runs.append({"run": run, "cpu_s": cpu, "load": f"{load_before} -> {load_average()}"})
        await bus.publish(
            org, ReviewDecided(submission_id=uuid.uuid4(), reviewer_id=uuid.uuid4(), decision="accept", score=0)
        )
        by_run: dict[str, list[float]] = {}
        for _ in clients:
            for label, value in results.get(timeout=300):
                by_run.setdefault(label, []).append(value * 1000)
        for entry in runs:
            latencies = by_run.get(f"run-{entry['run']}", [])
            cpu = entry.pop("cpu_s")
            entry.update(
                {
                    "samples": len(latencies),
                    "p50_ms": round(statistics.median(latencies), 1),
                    "p99_ms": round(percentile(latencies, 0.99), 1),
                    "max_ms": round(max(latencies), 1),
                    "api_cpu_ms_per_event": round(cpu * 1000 / args.events, 2),
                    "api_cpu_us_per_delivery": round(cpu * 1e6 / (args.events * args.subscribers), 1),
                }
            )
        p99s = [entry["p99_ms"] for entry in runs]
        return {
            "subscribers": args.subscribers,
            "api_processes": args.api_processes,
            "deflate": args.deflate,
            "pinned": {"api": [sorted(c) if c else None for c in api_cpus], "rest": sorted(other_cpus or [])},
            "events_per_run": args.events,
            "runs": runs,
            "p99_ms_spread": [min(p99s), max(p99s)],
            "hub_lag_mean_ms": round(_hub_lag_ms(urls), 2),
            "api_rss_mib": [_rss_mib(pid) for pid in pids],
        }
    finally:
        for process in clients:
            process.terminate()
        await bus.aclose()
        await redis.aclose()
        for api in apis:
            api.terminate()
        for api in apis:
            api.wait(timeout=20)
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=200, help="measured events per run")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between published events")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured events before each run")
    parser.add_argument("--runs", type=int, default=3, help="consecutive runs on the same sockets")
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4, help="driver processes holding the sockets")
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=True, help="pin the API away from the rest"
    )
    parser.add_argument(
        "--deflate",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="permessage-deflate on the API (off, as `lyceum up` runs it: LYCEUM_WS_COMPRESSION)",
    )
    results = asyncio.run(measure(parser.parse_args()))
    print(json.dumps(results, indent=2))
    print(f"\nfan-out to {results['subscribers']} subscribers ({results['api_processes']} API process(es)):")
    for run in results["runs"]:
        print(
            f"  run {run['run']}: p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, max {run['max_ms']:.1f} ms"
            f" over {run['samples']} deliveries; API CPU {run['api_cpu_ms_per_event']:.2f} ms/event"
            f" ({run['api_cpu_us_per_delivery']:.1f} us/delivery); load {run['load']}"
        )


if __name__ == "__main__":
    main()
