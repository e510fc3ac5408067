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
falls behind), and the API process's resident memory per idle authenticated WebSocket with --idle open.
A few unmeasured warm-up turns per transport run first (--warmup).
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
import json
import multiprocessing
import os
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

from app.config import load_settings
from app.db.bootstrap import migrate
from app.seed import seed
from app.server.embedded import EmbeddedStack, free_port

ROOT = Path(__file__).resolve().parents[1]
FAKE_KEY = "sk-ant-benchmark"


@dataclass
class Sample:
    first_token: float
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    total: float = 0.0


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
            sample.tokens += words(text)
            last = now
    assert sample is not None
    sample.total = time.perf_counter() - start
    return sample


async def ws_stream(
    url: str, session_id: str, headers: dict[str, str], index: int, text: str = "How do I start?"
) -> Sample:
    async with connect(
        f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session_id}/ws", additional_headers=headers, max_queue=None
    ) as ws:
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
                sample.tokens += words(event["text"])
                last = now
            elif event["type"] in ("done", "blocked", "error"):
                if event["type"] != "done":
                    raise RuntimeError(f"tutor answered {event}")
                break
    assert sample is not None
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
                sample.tokens += words(json.loads(line[5:])["text"])
                last = now
    assert sample is not None
    sample.total = time.perf_counter() - start
    return sample


def summarise(samples: list[Sample]) -> dict[str, float]:
    ttft = [s.first_token * 1000 for s in samples]
    gaps = [g * 1000 for s in samples for g in s.gaps]
    wall = max(s.total for s in samples)
    return {
        "ttft_p50_ms": statistics.median(ttft),
        "ttft_p99_ms": percentile(ttft, 0.99),
        "gap_p50_ms": statistics.median(gaps) if gaps else 0.0,
        "gap_p99_ms": percentile(gaps, 0.99),
        "tokens_per_s": sum(s.tokens for s in samples) / wall,
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-tutor-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
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
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.asgi:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            "websockets-sansio",
        ],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=1000)) as http:
            for _ in range(200):
                try:
                    if (await http.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
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
            results: dict[str, Any] = {}
            for level in args.levels:
                sessions = [await new_session() for _ in range(level)]
                direct = await asyncio.gather(*(direct_stream(sdk) for _ in range(level)))
                ws = await asyncio.gather(*(ws_stream(url, sessions[i], headers, i) for i in range(level)))
                sse = await asyncio.gather(*(sse_stream(http, url, sessions[i], headers, i) for i in range(level)))
                d, w, s = summarise(direct), summarise(ws), summarise(sse)
                results[str(level)] = {
                    "direct": d,
                    "ws": w,
                    "sse": s,
                    "ws_added_ttft_p50_ms": w["ttft_p50_ms"] - d["ttft_p50_ms"],
                    "ws_added_ttft_p99_ms": w["ttft_p99_ms"] - d["ttft_p99_ms"],
                    "sse_added_ttft_p50_ms": s["ttft_p50_ms"] - d["ttft_p50_ms"],
                    "sse_added_ttft_p99_ms": s["ttft_p99_ms"] - d["ttft_p99_ms"],
                    "ws_tokens_ratio": w["tokens_per_s"] / d["tokens_per_s"],
                    "sse_tokens_ratio": s["tokens_per_s"] / d["tokens_per_s"],
                }
            await sdk.close()
            results["idle"] = await idle_memory(url, headers, await new_session(), api.pid, args.idle)
        return results
    finally:
        api.terminate()
        api.wait(timeout=20)
        fake.terminate()
        stack.stop()


async def idle_memory(url: str, headers: dict[str, str], session_id: str, pid: int, count: int) -> dict[str, float]:
    await asyncio.sleep(1)
    before = rss_kib(pid)
    sockets = []
    for batch in range(0, count, 100):
        sockets += await asyncio.gather(
            *(
                connect(f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session_id}/ws", additional_headers=headers)
                for _ in range(min(100, count - batch))
            )
        )
    await asyncio.sleep(2)
    after = rss_kib(pid)
    for ws in sockets:
        await ws.close()
    return {
        "connections": float(count),
        "rss_before_kib": float(before),
        "rss_after_kib": float(after),
        "kib_per_connection": (after - before) / count,
    }


GROUNDED_QUESTION = "How should I store user passwords safely?"
UVICORN = ("-m", "uvicorn", "app.asgi:create_app", "--factory", "--log-level", "warning", "--ws", "websockets-sansio")


def start_api(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *UVICORN, "--port", str(port)],
        env=env,
        cwd=ROOT,
    )


async def wait_healthy(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(300):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,50,200", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--tokens", type=int, default=60, help="tokens per scripted reply")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream from the fake")
    parser.add_argument("--idle", type=int, default=2000, help="idle WebSockets for the memory figure")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured turns per transport before measuring")
    parser.add_argument("--grounding", action="store_true", help="TTFT with grounding on vs off, retrieval time")
    parser.add_argument("--turns", type=int, default=100, help="--grounding: one-at-a-time turns per side")
    parser.add_argument("--concurrency", type=int, default=20, help="--grounding: turns at once per round")
    parser.add_argument("--rounds", type=int, default=5, help="--grounding: concurrent rounds per side")
    parsed = parser.parse_args()
    if parsed.grounding:
        grounding_main(parsed)
        return
    results = asyncio.run(measure(parsed))
    print(json.dumps(results, indent=2))
    print("\n| concurrency | transport | added TTFT p50 ms | added TTFT p99 ms | tokens/s ratio |")
    print("|---|---|---|---|---|")
    for level, row in results.items():
        if level == "idle":
            continue
        for transport in ("ws", "sse"):
            print(
                f"| {level} | {transport} | {row[f'{transport}_added_ttft_p50_ms']:.1f} | "
                f"{row[f'{transport}_added_ttft_p99_ms']:.1f} | {row[f'{transport}_tokens_ratio']:.3f} |"
            )
    idle = results["idle"]
    print(f"\nidle WebSockets: {idle['connections']:.0f} open, {idle['kib_per_connection']:.1f} KiB each")


if __name__ == "__main__":
    main()
