"""Live review feed fan-out: latency from publish to receipt with many connected instructors.

    uv run python benchmarks/feed_fanout.py [--subscribers 500] [--events 200] [--interval 0.1]
                                             [--api-processes 1] [--clients 4]

Starts the Lyceum API under uvicorn (``--api-processes`` separate processes sharing Redis, as behind a
load balancer), opens ``--subscribers`` instructor WebSockets on ``/v1/review/feed`` spread over
``--clients`` driver processes (so the driver's own frame parsing is spread too) and over the API
processes, then publishes ``--events`` events through the EventBus, one every ``--interval`` seconds
(after ``--warmup`` unmeasured ones): real ``submission.graded`` payloads, each stamped with its
wall-clock publish time (``at``). Every subscriber records receipt time minus ``at`` (same host, same
clock). It prints p50/p99/max over all (event, subscriber) pairs, and the mean publish-to-hub lag the
API processes report (``lyceum_events_delivery_lag_seconds``).
Uses DATABASE_URL/REDIS_URL when set, else embedded servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
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

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "lyceum-bench:"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def _subscribe(urls: list[str], token: str, count: int, ready: Any, results: Any) -> None:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def one(url: str) -> None:
        async with connect(f"{url.replace('http', 'ws')}/v1/review/feed?limit=0", additional_headers=headers) as ws:
            while json.loads(await ws.recv())["type"] != "ready":
                pass
            ready.put(1)
            while True:
                frame = json.loads(await ws.recv())
                received = time.time()
                if frame["type"] == SUBMISSION_GRADED and frame["data"]["grader"] != "warmup":
                    # ``at`` is stamped by publish(): publish to this client's receipt.
                    latencies.append(received - datetime.fromisoformat(frame["at"]).timestamp())
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


def _client(urls: list[str], token: str, count: int, ready: Any, results: Any) -> None:
    asyncio.run(_subscribe(urls, token, count, ready, results))


def _start_api(port: int, env: dict[str, str], deflate: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", str(port)),
            *("--log-level", "warning", "--ws", "websockets-sansio", "--ws-per-message-deflate", str(deflate).lower()),
        ],
        env=env,
        cwd=ROOT,
    )


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
    }
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    await migrate(settings)
    await seed(settings)
    ports = [free_port() for _ in range(args.api_processes)]
    apis = [_start_api(port, env, args.deflate) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    clients: list[Any] = []
    redis = create_redis(redis_url)
    bus = EventBus(redis, PREFIX)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for url in urls:
                for _ in range(300):
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
            process = multiprocessing.Process(target=_client, args=(urls, token, count, ready, results), daemon=True)
            process.start()
            clients.append(process)
        for _ in range(args.subscribers):
            ready.get(timeout=120)
        await asyncio.sleep(1)
        # First sends on fresh sockets and cold code paths are not the steady state: warm up, unmeasured.
        for _ in range(args.warmup):
            await bus.publish(org, _graded("warmup"))
            await asyncio.sleep(args.interval)
        for seq in range(args.events):
            await bus.publish(org, _graded("ai_model", score=seq))
            await asyncio.sleep(args.interval)
        await bus.publish(
            org, ReviewDecided(submission_id=uuid.uuid4(), reviewer_id=uuid.uuid4(), decision="accept", score=0)
        )
        latencies = [value * 1000 for _ in clients for value in results.get(timeout=120)]
        return {
            "subscribers": args.subscribers,
            "api_processes": args.api_processes,
            "deflate": args.deflate,
            "events": args.events,
            "samples": len(latencies),
            "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies),
            "hub_lag_mean_ms": _hub_lag_ms(urls),
        }
    finally:
        for process in clients:
            process.terminate()
        await bus.aclose()
        await redis.aclose()
        for api in apis:
            api.terminate()
            api.wait(timeout=20)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between published events")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured events first")
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4, help="driver processes holding the sockets")
    parser.add_argument(
        "--deflate",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="permessage-deflate on the API (off, as `lyceum up` runs it: LYCEUM_WS_COMPRESSION)",
    )
    results = asyncio.run(measure(parser.parse_args()))
    print(json.dumps(results, indent=2))
    print(
        f"\nfan-out to {results['subscribers']} subscribers ({results['api_processes']} API process(es)): "
        f"p50 {results['p50_ms']:.1f} ms, p99 {results['p99_ms']:.1f} ms, max {results['max_ms']:.1f} ms "
        f"over {results['samples']} deliveries"
    )


if __name__ == "__main__":
    main()
