"""Tutor streaming benchmark: what Lyceum adds on top of the model's own stream.

    uv run python benchmarks/tutor_stream.py [--levels 1,50,200] [--tokens 60] [--rate 50] [--idle 2000] [--warmup 3]

One run, three processes: the fake Messages API (tests/support/fake_anthropic, emitting tokens at a fixed
rate), the Lyceum API (uvicorn, guardrails and budgets on, pointed at the fake with
ANTHROPIC_BASE_URL) and this driver. At each concurrency level it measures, for the same scripted
reply:

- direct: the anthropic SDK streaming straight from the fake (the baseline);
- ws:     a learner message over the tutor WebSocket, first `delta` and the gaps between deltas;
- sse:    the same over POST .../messages with Accept: text/event-stream.

It prints added time-to-first-token p50/p99 (Lyceum minus direct), relayed tokens/s as a ratio of
direct (tokens counted as words of text, since Lyceum may coalesce deltas into one frame when a client
falls behind), the API's CPU per turn (``cpu_ms_per_turn``: user+sys CPU of the API process and its
children from /proc/<pid>/stat over the measured turns, divided by the turns; ``cpu_us_per_token`` the
same per relayed token), and the API process's resident memory (``idle.kib_per_connection``) and CPU
(``idle.cpu_percent`` of one core, over --idle-seconds) with --idle authenticated WebSockets open and idle.
A few unmeasured warm-up turns per transport run first (--warmup). A level with fewer than --min-turns
streams is repeated (one burst after another) until it has that many turns, so its CPU figure is not
a handful of 10 ms clock ticks.

Burst mode (--levels): N turns start at the same instant. Sustained mode (--sustained 20,50): --streams
WebSockets stay open and turns arrive at a fixed Poisson rate (turns/s) for --sustained-seconds, each on
an open socket that is not busy; the same arrival times drive the direct baseline (SDK) and SSE (one
POST per turn), and it prints added TTFT p50/p95/p99 and the inter-token gap p99 against direct.
--tokens 1 gives one-token replies: set-up and record cost without the per-token relay cost.

Cores (--pin, on by default with 2+ CPUs): the API runs on CPU 0, the fake model and this driver on
CPU 1 (os.sched_setaffinity), so the API's figures are not queued behind the load generator.
PostgreSQL and Redis are not pinned. --json PATH writes the results there as well as to stdout.
Uses DATABASE_URL/REDIS_URL when set, else embedded servers in a temporary directory.

    uv run python benchmarks/tutor_stream.py --grounding [--turns 100] [--concurrency 20] [--rounds 5]

Grounding (issue 12 §3, docs/adaptive.md "Grounded tutor"): two API processes on the same database,
Redis, content index and fake model, one with LYCEUM_TUTOR_SOURCES=3 and one with 0 (grounding off).
Turns alternate between them (one at a time, then --concurrency at once for --rounds rounds), all asking
the same course question over the WebSocket, and it prints time to first token p50/p95 with grounding on
and off (their difference and ratio) and the retrieval time p50/p95 that the grounded turns recorded
(``ai_interactions.latency_retrieval_ms``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from anthropic import AsyncAnthropic
from websockets.asyncio.client import connect

from app.config import Settings, load_settings
from app.db.bootstrap import migrate
from app.lib.sockets import uvicorn_ws_args
from app.seed import seed
from app.server.embedded import EmbeddedStack, free_port
from benchmarks.procstat import cpu_seconds, rss_kib

ROOT = Path(__file__).resolve().parents[1]
FAKE_KEY = "sk-ant-benchmark"
TURN_TIMEOUT = 180.0  # a turn that has not finished by then is counted as failed, not waited for for ever


@dataclass
class Sample:
    first_token: float
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    total: float = 0.0
    parts: list[str] = field(default_factory=list)

    def finish(self, start: float) -> Sample:
        """Count the reply's tokens on the whole text (a word split across two frames is one token)."""
        self.total = time.perf_counter() - start
        self.tokens = words("".join(self.parts))
        self.parts = []
        return self


def _run_fake(port_queue: Any, tokens: int, rate: float) -> None:
    from tests.support.fake_anthropic.server import FakeAnthropic

    fake = FakeAnthropic()
    url = fake.start()
    # Prose without digits, like a tutor's reply (digit runs are held back briefly as possible personal data).
    words = "think about what the server must remember between two requests and why that matters"
    vocabulary = words.split(" ")
    reply = " ".join(vocabulary[i % len(vocabulary)] for i in range(tokens))
    fake.script(reply=reply, tokens_per_chunk=1, chunk_delay=1 / rate)
    port_queue.put(url)
    while True:
        time.sleep(3600)


def words(text: str) -> int:
    """Tokens in a piece of the reply: the fake's tokens are words, and Lyceum may send several in one
    frame when the client falls behind, so frames are not counted."""
    return len(text.split())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def direct_stream(client: AsyncAnthropic) -> Sample:
    start = time.perf_counter()
    sample: Sample | None = None
    last = start
    async with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=512, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        async for text in stream.text_stream:
            now = time.perf_counter()
            if sample is None:
                sample = Sample(first_token=now - start)
            else:
                sample.gaps.append(now - last)
            sample.parts.append(text)
            last = now
    assert sample is not None
    return sample.finish(start)


async def ws_turn(ws: Any, index: int, text: str = "How do I start?") -> Sample:
    """One turn on an open tutor socket: send a message, read deltas until ``done``."""
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "id": f"bench-{index}-{start}", "text": text}))
    sample: Sample | None = None
    last = start
    while True:
        event = json.loads(await ws.recv())
        now = time.perf_counter()
        if event["type"] == "delta":
            if sample is None:
                sample = Sample(first_token=now - start)
            else:
                sample.gaps.append(now - last)
            sample.parts.append(event["text"])
            last = now
        elif event["type"] in ("done", "blocked", "error"):
            if event["type"] != "done":
                raise RuntimeError(f"tutor answered {event}")
            break
    assert sample is not None
    return sample.finish(start)


def ws_connect(url: str, session_id: str, headers: dict[str, str], **options: Any) -> Any:
    return connect(
        f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session_id}/ws", additional_headers=headers, **options
    )


async def ws_stream(
    url: str, session_id: str, headers: dict[str, str], index: int, text: str = "How do I start?"
) -> Sample:
    """A turn on a new socket (connect, authenticate, load the session: all part of the turn's cost)."""
    async with ws_connect(url, session_id, headers, max_queue=None) as ws:
        start = time.perf_counter()
        sample = await ws_turn(ws, index, text)
    sample.total = time.perf_counter() - start
    return sample


async def sse_stream(
    client: httpx.AsyncClient, url: str, session_id: str, headers: dict[str, str], index: int
) -> Sample:
    start = time.perf_counter()
    sample: Sample | None = None
    last = start
    body = {"text": "How do I start?", "id": f"sse-{index}-{start}"}
    async with client.stream(
        "POST",
        f"{url}/v1/tutor/sessions/{session_id}/messages",
        json=body,
        headers={**headers, "Accept": "text/event-stream"},
    ) as response:
        delta = False
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                delta = line[6:].strip() == "delta"
            elif delta and line.startswith("data:"):
                now = time.perf_counter()
                if sample is None:
                    sample = Sample(first_token=now - start)
                else:
                    sample.gaps.append(now - last)
                sample.parts.append(json.loads(line[5:])["text"])
                last = now
    assert sample is not None
    return sample.finish(start)


def summarise(samples: list[Sample], wall: float | None = None) -> dict[str, float]:
    """Latency percentiles and relayed tokens/s: all tokens over ``wall`` seconds (a burst's duration),
    or without it (turns at a steady rate) the mean of each stream's own tokens/s."""
    failed = [s for s in samples if not isinstance(s, Sample)]
    if failed:  # a turn that raised (e.g. closed 4500 or 1011 on an overloaded machine): counted, not measured
        print(f"{len(failed)} of {len(samples)} turns failed, first: {failed[0]!r}", file=sys.stderr)
        samples = [s for s in samples if isinstance(s, Sample)]
    ttft = [s.first_token * 1000 for s in samples]
    gaps = [g * 1000 for s in samples for g in s.gaps]
    tokens_per_s = (
        sum(s.tokens for s in samples) / wall if wall else statistics.fmean(s.tokens / s.total for s in samples)
    )
    return {
        "turns": float(len(samples)),
        "failed": float(len(failed)),
        "ttft_p50_ms": statistics.median(ttft),
        "ttft_p95_ms": percentile(ttft, 0.95),
        "ttft_p99_ms": percentile(ttft, 0.99),
        "gap_p50_ms": statistics.median(gaps) if gaps else 0.0,
        "gap_p99_ms": percentile(gaps, 0.99),
        "tokens_per_s": tokens_per_s,
    }


@dataclass
class CpuWindow:
    """API CPU over a block of turns: ``cpu_ms_per_turn`` and ``cpu_us_per_token`` for the summary."""

    pid: int
    start: float = 0.0

    def __enter__(self) -> CpuWindow:
        self.start = cpu_seconds(self.pid, tree=True, reaped=True)
        return self

    def __exit__(self, *_: object) -> None:
        self.used = cpu_seconds(self.pid, tree=True, reaped=True) - self.start

    def figures(self, samples: list[Sample]) -> dict[str, float]:
        samples = [s for s in samples if isinstance(s, Sample)]  # failed turns cost CPU too: a bias upwards
        tokens = sum(s.tokens for s in samples)
        return {
            "cpu_ms_per_turn": self.used * 1000 / len(samples),
            "cpu_us_per_token": self.used * 1e6 / tokens if tokens else float("nan"),
        }


def pin(pid: int, cpu: int) -> None:
    """Pin a process and all its threads to one CPU (no-op with fewer than two CPUs)."""
    if (os.cpu_count() or 1) < 2:
        return
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), {cpu})


def raise_fd_limit() -> None:
    """Thousands of idle sockets need thousands of descriptors, here and in the API (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def api_command(settings: Settings, port: int) -> list[str]:
    """The API as `lyceum up` runs it (the same uvicorn WebSocket options)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.asgi:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *uvicorn_ws_args(settings),
    ]


def added(row: dict[str, Any], transport: str) -> dict[str, float]:
    direct, relayed = row["direct"], row[transport]
    return {
        f"{transport}_added_ttft_p50_ms": relayed["ttft_p50_ms"] - direct["ttft_p50_ms"],
        f"{transport}_added_ttft_p95_ms": relayed["ttft_p95_ms"] - direct["ttft_p95_ms"],
        f"{transport}_added_ttft_p99_ms": relayed["ttft_p99_ms"] - direct["ttft_p99_ms"],
        f"{transport}_added_gap_p99_ms": relayed["gap_p99_ms"] - direct["gap_p99_ms"],
        f"{transport}_tokens_ratio": relayed["tokens_per_s"] / direct["tokens_per_s"],
    }


async def bursts(sessions: list[str], level: int, turn: Any) -> tuple[list[Sample], float]:
    """Bursts of ``level`` turns started at once (``turn(session_id, index)``), one burst after another
    until every session had its turn; the samples and the bursts' durations (start to last end), summed."""
    samples: list[Sample] = []
    wall = 0.0
    for first in range(0, len(sessions), level):
        start = time.perf_counter()
        samples += await asyncio.gather(
            *(asyncio.wait_for(turn(sid, i), TURN_TIMEOUT) for i, sid in enumerate(sessions[first : first + level])),
            return_exceptions=True,
        )
        wall += time.perf_counter() - start
    return samples, wall


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-tutor-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    if args.pin:
        pin(os.getpid(), 1)  # the driver, and the fake it starts next, on CPU 1 (the database servers are not)
    queue: Any = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_run_fake, args=(queue, args.tokens, args.rate), daemon=True)
    fake.start()
    fake_url = queue.get(timeout=30)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "ANTHROPIC_BASE_URL": fake_url,
        "LYCEUM_RATE_LIMIT_TUTOR_USER": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_USER": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_ORG": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_GLOBAL": "100000000/1s",
        "LYCEUM_BUDGET_ORG_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_COURSE_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_USER_DAILY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_SESSION_TOKENS": "2000000000",
        "LYCEUM_WS_SEND_QUEUE_SIZE": "4096",
    }
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    await migrate(settings)
    await seed(settings)
    api = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        api_command(settings, port),
        env=env,
        cwd=ROOT,
        # The API on CPU 0 from its first instruction (its threads inherit it).
        preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if args.pin else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1000)) as http:
            await wait_healthy(http, url, 300)  # a first start on a loaded machine can take minutes
            login = await http.post(
                f"{url}/v1/auth/login", json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            course = (await http.get(f"{url}/v1/courses", headers=headers)).json()["items"][0]["id"]

            async def new_session() -> str:
                response = await http.post(f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course})
                return str(response.json()["id"])

            sdk = AsyncAnthropic(api_key=FAKE_KEY, base_url=fake_url, max_retries=0)
            # Warm-up, not measured: the first request of each kind pays connection set-up, lazy imports
            # and first-use caches on both sides, which would otherwise land in the 1-stream row.
            for index in range(args.warmup):
                warm = await new_session()
                await direct_stream(sdk)
                await ws_stream(url, warm, headers, -1 - index)
                await sse_stream(http, url, warm, headers, -1 - index)
            results: dict[str, Any] = {
                "config": {
                    "tokens": args.tokens,
                    "rate": args.rate,
                    "pinned": "api: cpu 0; fake model and driver: cpu 1" if args.pin else "no",
                    "cpus": os.cpu_count(),
                }
            }
            for level in args.levels:
                rounds = max(1, math.ceil(args.min_turns / level))
                sessions = [await new_session() for _ in range(level * rounds)]
                direct, direct_wall = await bursts(sessions, level, lambda _sid, _i: direct_stream(sdk))
                with CpuWindow(api.pid) as ws_cpu:
                    ws, ws_wall = await bursts(sessions, level, lambda sid, i: ws_stream(url, sid, headers, i))
                with CpuWindow(api.pid) as sse_cpu:
                    sse, sse_wall = await bursts(sessions, level, lambda sid, i: sse_stream(http, url, sid, headers, i))
                row: dict[str, Any] = {
                    "direct": summarise(direct, direct_wall),
                    "ws": {**summarise(ws, ws_wall), **ws_cpu.figures(ws)},
                    "sse": {**summarise(sse, sse_wall), **sse_cpu.figures(sse)},
                    "load_avg_1m": os.getloadavg()[0],
                }
                results[str(level)] = {**row, **added(row, "ws"), **added(row, "sse")}
            for rate in args.sustained:
                results[f"sustained_{rate:g}"] = await sustained(
                    args, rate, url, http, headers, sdk, api.pid, new_session
                )
            await sdk.close()
            if args.idle:
                results["idle"] = await idle_load(url, headers, await new_session(), api.pid, args)
        return results
    finally:
        api.terminate()
        api.wait(timeout=20)
        fake.terminate()
        stack.stop()


async def sustained(
    args: argparse.Namespace,
    rate: float,
    url: str,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    sdk: AsyncAnthropic,
    api_pid: int,
    new_session: Any,
) -> dict[str, Any]:
    """--streams open sockets, turns arriving at ``rate`` per second (Poisson), the same arrival times for
    direct, WebSocket and SSE; the WebSocket turns go to an open socket that is not busy."""
    turns = max(1, round(rate * args.sustained_seconds))
    chance = random.Random(f"{rate}-{turns}")  # the same schedule in every run
    arrivals, at = [], 0.0
    for _ in range(turns):
        at += chance.expovariate(rate)
        arrivals.append(at)

    async def paced(start_turn: Any) -> list[Sample]:
        tasks = []
        begin = time.perf_counter()
        for index, arrival in enumerate(arrivals):
            delay = begin + arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(asyncio.wait_for(start_turn(index), TURN_TIMEOUT)))
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    direct = await paced(lambda _index: direct_stream(sdk))
    sessions = [await new_session() for _ in range(args.streams)]
    sockets = []
    for batch in range(0, len(sessions), 50):
        sockets += await asyncio.gather(
            *(ws_connect(url, sid, headers, max_queue=None) for sid in sessions[batch : batch + 50])
        )
    free: asyncio.Queue[tuple[Any, str]] = asyncio.Queue()
    for ws, sid in zip(sockets, sessions, strict=True):
        free.put_nowait((ws, sid))
    waited = 0

    async def on_socket(index: int) -> Sample:
        nonlocal waited
        if free.empty():
            waited += 1  # more turns in flight than open sockets: the figure then includes this wait
        ws, sid = await free.get()
        try:
            return await ws_turn(ws, index)
        except Exception:
            # The socket may be closed (counted as a failed turn): a fresh one takes its place.
            with contextlib.suppress(Exception):
                await ws.close()
            ws = await ws_connect(url, sid, headers, max_queue=None)
            raise
        finally:
            sockets.append(ws)
            free.put_nowait((ws, sid))

    with CpuWindow(api_pid) as ws_cpu:
        ws_samples = await paced(on_socket)
    for ws in set(sockets):
        await ws.close()
    sse_sessions = [await new_session() for _ in range(args.streams)]
    with CpuWindow(api_pid) as sse_cpu:
        sse_samples = await paced(
            lambda index: sse_stream(http, url, sse_sessions[index % len(sse_sessions)], headers, index)
        )
    row: dict[str, Any] = {
        "rate": rate,
        "streams": args.streams,
        "direct": summarise(direct),
        "ws": {**summarise(ws_samples), **ws_cpu.figures(ws_samples), "waited_for_socket": float(waited)},
        "sse": {**summarise(sse_samples), **sse_cpu.figures(sse_samples)},
        "load_avg_1m": os.getloadavg()[0],
    }
    return {**row, **added(row, "ws"), **added(row, "sse")}


async def idle_load(
    url: str, headers: dict[str, str], session_id: str, pid: int, args: argparse.Namespace
) -> dict[str, float]:
    """Memory and CPU of the API with ``args.idle`` authenticated tutor sockets open and idle. The driver
    sends no pings of its own (a browser does not), so the CPU is the server's keep-alive and timers.

    ``kib_per_connection``: RSS after opening them minus before, over the count (the figure the goals
    use). It includes the allocator's high-water mark from the handshakes (100 at a time), so it also
    reports ``kib_per_connection_second_half`` (the RSS slope over the second half of the sockets, once
    that high-water mark is reached) and, after closing them all, ``kib_per_connection_reopened`` (the
    same sockets opened again: RSS growth over the first ``rss_after_kib``, per socket)."""
    count = args.idle
    await asyncio.sleep(1)
    before = rss_kib(pid)
    with CpuWindow(pid) as quiet:
        await asyncio.sleep(args.idle_seconds / 2)
    quiet_percent = quiet.used * 100 / (args.idle_seconds / 2)

    async def open_all() -> tuple[list[Any], float]:
        sockets: list[Any] = []
        half_rss, half_count = 0, count
        for batch in range(0, count, 100):
            sockets += await asyncio.gather(
                *(
                    ws_connect(url, session_id, headers, ping_interval=None, open_timeout=300)
                    for _ in range(min(100, count - batch))
                )
            )
            if not half_rss and len(sockets) >= count // 2:
                await asyncio.sleep(1)
                half_rss, half_count = rss_kib(pid), len(sockets)
        await asyncio.sleep(2)
        return sockets, (rss_kib(pid) - half_rss) / max(1, count - half_count)

    async def close_all(sockets: list[Any]) -> None:
        for batch in range(0, len(sockets), 500):
            await asyncio.gather(*(ws.close() for ws in sockets[batch : batch + 500]))

    sockets, second_half = await open_all()
    after = rss_kib(pid)
    with CpuWindow(pid) as idle:
        await asyncio.sleep(args.idle_seconds)
    still_open = sum(1 for ws in sockets if ws.close_code is None)
    await close_all(sockets)
    await asyncio.sleep(3)
    closed = reopened = rss_kib(pid)
    if args.idle_reopen:
        sockets, _ = await open_all()
        reopened = rss_kib(pid)
        await close_all(sockets)
    return {
        "connections": float(count),
        "still_open": float(still_open),
        "rss_before_kib": float(before),
        "rss_after_kib": float(after),
        "kib_per_connection": (after - before) / count,
        "kib_per_connection_second_half": second_half,
        "rss_after_close_kib": float(closed),
        "kib_per_connection_reopened": (reopened - closed) / count if args.idle_reopen else float("nan"),
        "seconds": args.idle_seconds,
        "cpu_percent": idle.used * 100 / args.idle_seconds,
        "cpu_percent_without_sockets": quiet_percent,
        "load_avg_1m": os.getloadavg()[0],
    }


GROUNDED_QUESTION = "How should I store user passwords safely?"
UVICORN = ("-m", "uvicorn", "app.asgi:create_app", "--factory", "--log-level", "warning", "--ws", "websockets-sansio")


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *UVICORN, "--port", str(port)],
        env=env,
        cwd=ROOT,
    )


async def wait_healthy(http: httpx.AsyncClient, url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (await http.get(f"{url}/health")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy")


async def measure_grounding(args: argparse.Namespace) -> dict[str, Any]:
    """TTFT with grounding on and off, in the same run, and the grounded turns' recorded retrieval time."""

    from app.db.engine import Database, create_engine, owner_url
    from app.domain.search.indexer import ContentIndexer
    from app.domain.search.vectors import VectorIndex
    from tests.support.search import index_everything

    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-grounding-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    queue: Any = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_run_fake, args=(queue, args.tokens, args.rate), daemon=True)
    fake.start()
    fake_url = queue.get(timeout=30)
    unlimited = "100000000/1s"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "ANTHROPIC_BASE_URL": fake_url,
        "LYCEUM_RATE_LIMIT_TUTOR_USER": unlimited,
        "LYCEUM_RATE_LIMIT_API_USER": unlimited,
        "LYCEUM_RATE_LIMIT_API_ORG": unlimited,
        "LYCEUM_RATE_LIMIT_API_GLOBAL": unlimited,
        "LYCEUM_BUDGET_ORG_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_COURSE_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_USER_DAILY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_SESSION_TOKENS": "2000000000",
    }
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    await migrate(settings)
    await seed(settings)
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    await index_everything(ContentIndexer(db, vectors), settings)  # what the worker does after `lyceum seed`
    vectors.close()
    await db.dispose()
    ports = {"on": free_port(), "off": free_port()}
    apis = {
        name: start_api({**env, "LYCEUM_TUTOR_SOURCES": "3" if name == "on" else "0"}, port)
        for name, port in ports.items()
    }
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1000)) as http:
            for url in urls.values():
                await wait_healthy(http, url)
            login = await http.post(
                f"{urls['on']}/v1/auth/login",
                json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"},
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            courses = (await http.get(f"{urls['on']}/v1/courses", headers=headers)).json()["items"]
            course = next(c["id"] for c in courses if c["slug"] == "backend-foundations")

            async def new_session(url: str) -> str:
                response = await http.post(f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course})
                return str(response.json()["id"])

            sessions = {name: await new_session(url) for name, url in urls.items()}
            samples: dict[str, list[Sample]] = {"on": [], "off": []}
            counter = 0

            async def turn(name: str, session_id: str) -> Sample:
                nonlocal counter
                counter += 1
                return await ws_stream(urls[name], session_id, headers, counter, GROUNDED_QUESTION)

            for _ in range(args.warmup):  # first Chroma use, lazy imports and connections: not measured
                for name in ("on", "off"):
                    await turn(name, sessions[name])
            measured_since = time.time()
            for index in range(args.turns):
                order = ("on", "off") if index % 2 == 0 else ("off", "on")  # alternate: drift hits both
                for name in order:
                    samples[name].append(await turn(name, sessions[name]))
            sequential = {name: summarise_ttft(found) for name, found in samples.items()}
            concurrent_since = time.time()
            concurrent: dict[str, list[Sample]] = {"on": [], "off": []}
            for index in range(args.rounds):
                for name in ("on", "off") if index % 2 == 0 else ("off", "on"):
                    ids = [await new_session(urls[name]) for _ in range(args.concurrency)]
                    concurrent[name] += await asyncio.gather(*(turn(name, i) for i in ids))
            parallel = {name: summarise_ttft(found) for name, found in concurrent.items()}
        engine = create_engine(owner_url(settings.database_url), pool_size=1)
        async with engine.connect() as conn:
            phases = {
                "sequential": await recorded_retrieval(conn, measured_since, concurrent_since),
                f"concurrency_{args.concurrency}": await recorded_retrieval(conn, concurrent_since, time.time()),
            }
        await engine.dispose()
        return {
            "sequential": compare(sequential),
            f"concurrency_{args.concurrency}": compare(parallel),
            "retrieval_ms": phases,
        }
    finally:
        for api in apis.values():
            api.terminate()
            api.wait(timeout=20)
        fake.terminate()
        stack.stop()


async def recorded_retrieval(conn: Any, since: float, until: float) -> dict[str, float]:
    """The grounded turns' ``latency_retrieval_ms`` and how many got sources, between two times."""
    from sqlalchemy import text as sql

    rows = (
        await conn.execute(
            sql(
                "select latency_retrieval_ms, jsonb_array_length(sources) > 0 from ai_interactions"
                " where latency_retrieval_ms is not null and created_at >= to_timestamp(:since)"
                " and created_at < to_timestamp(:until)"
            ),
            {"since": since, "until": until},
        )
    ).all()
    values = [float(ms) for ms, _ in rows]
    return {
        "turns": float(len(values)),
        "with_sources": float(sum(1 for _, has in rows if has)),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values, default=float("nan")),
    }


def summarise_ttft(samples: list[Sample]) -> dict[str, float]:
    ttft = [s.first_token * 1000 for s in samples]
    return {"n": float(len(ttft)), "ttft_p50_ms": percentile(ttft, 0.5), "ttft_p95_ms": percentile(ttft, 0.95)}


def compare(rows: dict[str, dict[str, float]]) -> dict[str, Any]:
    on, off = rows["on"], rows["off"]
    return {
        "on": on,
        "off": off,
        "added_p50_ms": on["ttft_p50_ms"] - off["ttft_p50_ms"],
        "added_p95_ms": on["ttft_p95_ms"] - off["ttft_p95_ms"],
        "ratio_p50": on["ttft_p50_ms"] / off["ttft_p50_ms"],
        "ratio_p95": on["ttft_p95_ms"] / off["ttft_p95_ms"],
    }


def grounding_main(args: argparse.Namespace) -> None:
    results = asyncio.run(measure_grounding(args))
    print(json.dumps(results, indent=2))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("\n| turns | TTFT p50 on / off ms | TTFT p95 on / off ms | added p50 / p95 ms | ratio p50 / p95 |")
    print("|---|---|---|---|---|")
    for name, row in results.items():
        if name == "retrieval_ms":
            continue
        on, off = row["on"], row["off"]
        print(
            f"| {name} ({on['n']:.0f} + {off['n']:.0f}) | {on['ttft_p50_ms']:.1f} / {off['ttft_p50_ms']:.1f} | "
            f"{on['ttft_p95_ms']:.1f} / {off['ttft_p95_ms']:.1f} | {row['added_p50_ms']:.1f} / "
            f"{row['added_p95_ms']:.1f} | {row['ratio_p50']:.3f} / {row['ratio_p95']:.3f} |"
        )
    for phase, r in results["retrieval_ms"].items():
        print(
            f"retrieval, {phase}: {r['turns']:.0f} grounded turns ({r['with_sources']:.0f} with sources), "
            f"p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, max {r['max']:.0f} ms"
        )


def int_list(value: str) -> list[int]:
    return [int(x) for x in value.split(",") if x.strip()]


def float_list(value: str) -> list[float]:
    return [float(x) for x in value.split(",") if x.strip()]


def print_table(results: dict[str, Any]) -> None:
    print(f"\nreplies of {results['config']['tokens']} tokens; pinned: {results['config']['pinned']}")
    print(
        "\n| load | transport | added TTFT p50 / p95 / p99 ms | added gap p99 ms | tokens/s ratio "
        "| API CPU ms/turn | µs/token | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for level, row in results.items():
        if level in ("idle", "config"):
            continue
        sustained = level.startswith("sustained")
        name = f"{row['rate']:g} turns/s, {row['streams']} open" if sustained else f"{level} at once"
        for transport in ("ws", "sse"):
            print(
                f"| {name} | {transport} | {row[f'{transport}_added_ttft_p50_ms']:.1f} / "
                f"{row[f'{transport}_added_ttft_p95_ms']:.1f} / {row[f'{transport}_added_ttft_p99_ms']:.1f} | "
                f"{row[f'{transport}_added_gap_p99_ms']:.1f} | {row[f'{transport}_tokens_ratio']:.3f} | "
                f"{row[transport]['cpu_ms_per_turn']:.2f} | {row[transport]['cpu_us_per_token']:.0f} | "
                f"{row['load_avg_1m']:.1f} |"
            )
    if "idle" in results:
        idle = results["idle"]
        print(
            f"\nidle WebSockets: {idle['connections']:.0f} open ({idle['still_open']:.0f} still open after "
            f"{idle['seconds']:g} s), {idle['kib_per_connection']:.1f} KiB each, API CPU {idle['cpu_percent']:.2f} % "
            f"of a core ({idle['cpu_percent_without_sockets']:.2f} % without them), load {idle['load_avg_1m']:.1f}"
        )
        if "kib_per_connection_reopened" in idle:
            print(
                f"  RSS slope over the second half: {idle['kib_per_connection_second_half']:.1f} KiB per socket; "
                f"closed and opened again: {idle['kib_per_connection_reopened']:.1f} KiB per socket"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,50,200", type=int_list, help="burst sizes ('' for none)")
    parser.add_argument("--tokens", type=int, default=60, help="tokens per scripted reply (1: set-up cost only)")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream from the fake")
    parser.add_argument("--min-turns", type=int, default=20, help="repeat a smaller burst up to this many turns")
    parser.add_argument("--sustained", default="", type=float_list, help="turn rates per second, e.g. 20,50")
    parser.add_argument("--streams", type=int, default=200, help="--sustained: open WebSockets")
    parser.add_argument("--sustained-seconds", type=float, default=20.0, help="--sustained: seconds of arrivals")
    parser.add_argument("--idle", type=int, default=2000, help="idle WebSockets for the memory figure (0: skip)")
    parser.add_argument("--idle-reopen", action="store_true", help="close the idle sockets and open them again")
    parser.add_argument("--idle-seconds", type=float, default=45.0, help="CPU window with the idle sockets open")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured turns per transport before measuring")
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=True, help="API on CPU 0, fake and driver on CPU 1"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--grounding", action="store_true", help="TTFT with grounding on vs off, retrieval time")
    parser.add_argument("--turns", type=int, default=100, help="--grounding: one-at-a-time turns per side")
    parser.add_argument("--concurrency", type=int, default=20, help="--grounding: turns at once per round")
    parser.add_argument("--rounds", type=int, default=5, help="--grounding: concurrent rounds per side")
    parsed = parser.parse_args()
    if parsed.grounding:
        grounding_main(parsed)
        return
    parsed.pin = parsed.pin and (os.cpu_count() or 1) >= 2
    results = asyncio.run(measure(parsed))
    print(json.dumps(results, indent=2))
    if parsed.json:
        parsed.json.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
