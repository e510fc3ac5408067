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


async def ws_stream(url: str, session_id: str, headers: dict[str, str], index: int) -> Sample:
    async with connect(
        f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session_id}/ws", additional_headers=headers, max_queue=None
    ) as ws:
        start = time.perf_counter()
        await ws.send(json.dumps({"type": "message", "id": f"bench-{index}-{start}", "text": "How do I start?"}))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,50,200", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--tokens", type=int, default=60, help="tokens per scripted reply")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream from the fake")
    parser.add_argument("--idle", type=int, default=2000, help="idle WebSockets for the memory figure")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured turns per transport before measuring")
    results = asyncio.run(measure(parser.parse_args()))
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
