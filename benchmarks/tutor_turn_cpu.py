"""API CPU per tutor turn, from /proc: what one WebSocket turn costs the API process, set-up and per token.

    uv run python benchmarks/tutor_turn_cpu.py [--turns 200] [--concurrency 10] [--tokens 1,60] [--rate 200]
        [--profile DIR]

Three processes, as in ``tutor_stream.py``: the fake Messages API (its own process), the Lyceum API (uvicorn,
guardrails, the model-based input check and budgets on, pointed at the fake) and this driver. For each reply
length in ``--tokens`` it starts a fresh fake and API, runs unmeasured warm-up turns, then ``--turns``
measured turns, ``--concurrency`` at a time, each on its own session (created before the measurement) over a
fresh authenticated WebSocket: connect, one message, the reply, ``done``, close. The figure is the API
process's user+system CPU time (``/proc/PID/stat``) over the measured turns divided by the turns: unlike
latency it hardly moves when other work shares the cores. The process's CPU in an idle window just before
(``--idle-seconds``, no turn running) is reported too (``idle_cpu_percent``), and the per-turn figure net of
it (``net_cpu_ms_per_turn``); the set-up and per-token figures use the net one. With two reply lengths (1 and
60 tokens) it also prints the per-token cost, (cpu(60) - cpu(1)) / 59, and the set-up-and-record cost (the
1-token figure). ``--profile DIR`` records the measured turns with py-spy (``--format raw``, one file per
length) when py-spy is installed. ``--baseline DIR`` runs the API from another checkout (same virtualenv)
interleaved with this one, so a before/after comparison shares the machine's load; ``--rounds`` repeats
everything for the spread. Uses DATABASE_URL/REDIS_URL when set, else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from app.config import load_settings
from app.db.bootstrap import migrate
from app.seed import seed
from app.server.embedded import EmbeddedStack, free_port
from benchmarks.procstat import cpu_seconds, load_average
from benchmarks.tutor_stream import _run_fake  # the same fake model, scripted the same way

ROOT = Path(__file__).resolve().parents[1]
FAKE_KEY = "sk-ant-benchmark"
# Prose without digits, like a tutor's reply (digit runs are held back briefly as possible personal data).
UVICORN = ("-m", "uvicorn", "app.asgi:create_app", "--factory", "--log-level", "warning", "--ws", "websockets-sansio")


async def ws_turn(url: str, session_id: str, headers: dict[str, str], message_id: str) -> int:
    deltas = 0
    async with connect(
        f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session_id}/ws", additional_headers=headers, max_queue=None
    ) as ws:
        await ws.send(json.dumps({"type": "message", "id": message_id, "text": "How do I start?"}))
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "delta":
                deltas += 1
            elif event["type"] == "done":
                return deltas
            elif event.get("code") == "unavailable":  # Redis did not answer in time on a saturated machine
                return -1
            else:
                raise RuntimeError(f"tutor answered {event}")


async def run_length(
    args: argparse.Namespace, base_env: dict[str, str], tokens: int, root: Path = ROOT
) -> dict[str, float]:
    queue: Any = multiprocessing.Queue()
    fake = multiprocessing.Process(target=_run_fake, args=(queue, tokens, args.rate), daemon=True)
    fake.start()
    fake_url = queue.get(timeout=30)
    port = free_port()
    env = {**base_env, "ANTHROPIC_BASE_URL": fake_url}
    api = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [sys.executable, *UVICORN, "--port", str(port)],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    spy: subprocess.Popen[bytes] | None = None
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            deadline = time.monotonic() + 300  # a loaded machine imports slowly
            while True:
                if api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API did not start")
                try:
                    if (await http.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            for _ in range(30):  # a shared PostgreSQL may briefly refuse connections (max_connections)
                login = await http.post(
                    f"{url}/v1/auth/login",
                    json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"},
                )
                if login.status_code == 200:
                    break
                await asyncio.sleep(2)
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            courses = (await http.get(f"{url}/v1/courses", headers=headers)).json()["items"]
            course = next(c["id"] for c in courses if c["slug"] == "backend-foundations")

            async def new_session() -> str:
                response = await http.post(f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course})
                return str(response.json()["id"])

            failed = [0]

            async def batch(sessions: list[str], tag: str) -> int:
                deltas = 0
                for start in range(0, len(sessions), args.concurrency):
                    chunk = sessions[start : start + args.concurrency]
                    done = await asyncio.gather(
                        *(ws_turn(url, s, headers, f"{tag}-{start + i}") for i, s in enumerate(chunk))
                    )
                    deltas += sum(d for d in done if d >= 0)
                    failed[0] += sum(1 for d in done if d < 0)
                return deltas

            await batch([await new_session() for _ in range(args.warmup)], "warm")
            sessions = [await new_session() for _ in range(args.turns)]
            await asyncio.sleep(0.5)  # let the session creations' background work settle
            if args.profile and shutil.which("py-spy"):
                out = Path(args.profile) / f"turns-{tokens}tok{'-baseline' if root != ROOT else ''}.txt"
                spy = subprocess.Popen(  # noqa: ASYNC220 - before the measured window
                    ["py-spy", "record", "-p", str(api.pid), "--format", "raw", "-r", "250", "-o", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)  # py-spy attaches
            # The process's own background CPU (timers, pools, the event hub) with no turn running, so the
            # per-turn figure can be given net of it as well.
            idle_before, idle_wall = cpu_seconds(api.pid), time.perf_counter()
            await asyncio.sleep(args.idle_seconds)
            idle_rate = (cpu_seconds(api.pid) - idle_before) / (time.perf_counter() - idle_wall)
            load = load_average()
            before, wall = cpu_seconds(api.pid), time.perf_counter()
            failed[0] = 0
            deltas = await batch(sessions, "turn")
            cpu, wall = cpu_seconds(api.pid) - before, time.perf_counter() - wall
        return {
            "tokens": float(tokens),
            "turns": float(args.turns),
            "cpu_ms_per_turn": cpu * 1000 / args.turns,
            "idle_cpu_percent": idle_rate * 100,
            "net_cpu_ms_per_turn": (cpu - idle_rate * wall) * 1000 / args.turns,
            "deltas_per_turn": deltas / args.turns,
            "unavailable_turns": float(failed[0]),  # answered "unavailable" (Redis too slow), still counted
            "wall_s": wall,
            "load_1min": float(load),
        }
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        api.terminate()
        api.wait(timeout=20)
        fake.terminate()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-turn-cpu-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    unlimited = "100000000/1s"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "LYCEUM_RATE_LIMIT_TUTOR_USER": unlimited,
        "LYCEUM_RATE_LIMIT_API_USER": unlimited,
        "LYCEUM_RATE_LIMIT_API_ORG": unlimited,
        "LYCEUM_RATE_LIMIT_API_GLOBAL": unlimited,
        "LYCEUM_BUDGET_ORG_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_COURSE_MONTHLY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_USER_DAILY_TOKENS": "2000000000",
        "LYCEUM_BUDGET_SESSION_TOKENS": "2000000000",
        "LYCEUM_WS_SEND_QUEUE_SIZE": "4096",
    }
    try:
        settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
        await migrate(settings)
        await seed(settings)
        results: dict[str, Any] = {}
        trees = {"": ROOT, **({"baseline": args.baseline} if args.baseline else {})}
        for round_ in range(args.rounds):
            for tokens in args.tokens:
                for tree, root in trees.items():  # interleaved, so both trees see the same machine load
                    name = f"{tree}/{tokens}" if tree else str(tokens)
                    figures = await run_length(args, env, tokens, root)
                    results.setdefault(name, []).append(figures)
                    print(json.dumps({name: figures, "round": round_}), flush=True)
        for tree in trees:
            prefix = f"{tree}/" if tree else ""
            if len(args.tokens) == 2:
                low, high = sorted(args.tokens)
                a = [r["net_cpu_ms_per_turn"] for r in results[f"{prefix}{low}"]]
                b = [r["net_cpu_ms_per_turn"] for r in results[f"{prefix}{high}"]]
                results[f"{prefix}setup_and_record_ms"] = a
                results[f"{prefix}per_token_us"] = [(y - x) * 1000 / (high - low) for x, y in zip(a, b, strict=True)]
        return results
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tokens", type=lambda s: [int(x) for x in s.split(",")], default=[1, 60])
    parser.add_argument("--rate", type=float, default=200.0, help="model tokens per second per stream")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle window before the measured turns")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything, for the run-to-run spread")
    parser.add_argument("--baseline", default="", help="another checkout (e.g. main's worktree) measured alongside")
    parser.add_argument("--profile", default="", help="directory for py-spy raw profiles of the measured turns")
    arguments = parser.parse_args()
    if arguments.profile:
        Path(arguments.profile).mkdir(parents=True, exist_ok=True)
    arguments.baseline = Path(arguments.baseline).resolve() if arguments.baseline else None
    print(json.dumps(asyncio.run(main(arguments)), indent=2))
