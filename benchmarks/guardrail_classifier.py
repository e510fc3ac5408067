"""What the learned input classifier adds to a tutor turn's time to first token.

    uv run python benchmarks/guardrail_classifier.py [--turns 300] [--concurrency 1,10] [--history 3]

Two measurements in one run:

1. in-process: the classifier step on the turn's critical path (``check_conversation``: the window of the
   message with the learner's last turns, and the linear model; the message's own features are computed
   by ``check_message`` while the turn's database lookup is in flight), on every message of the evaluation
   sets (tests/safety/guardrails/) read with ``--history`` earlier learner turns, and on 4 000-character messages.
   Reported as p50 / p95 / p99 / max milliseconds of wall time and of the thread's CPU time.
2. end to end: the real API (uvicorn, separate process) and the offline tutor, learners of two orgs that
   study the same course, one with the classifier on (``demo``, the default policy) and one with it off
   (``acme``, a policy override written for this run into a copy of content/). Turns of the two orgs are
   interleaved so both see the same machine; each session has ``--history`` answered turns before the
   measured ones. Time to first token is from sending the message on the WebSocket to the first ``delta``.
   Reported per org: p50 / p95 ms, the difference (added by the classifier) and the ratio.

Uses DATABASE_URL / REDIS_URL when set (a fresh database name is recommended), else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from websockets.asyncio.client import connect

from app.config import load_settings
from app.db.bootstrap import migrate
from app.domain.tutor.guardrails.classifier import warm_up
from app.domain.tutor.guardrails.pipeline import check_conversation, check_input, check_message
from app.domain.tutor.guardrails.policy import GuardrailPolicy
from app.domain.tutor.providers.base import TutorContext
from app.seed import seed
from app.server.embedded import EmbeddedStack, free_port

ROOT = Path(__file__).resolve().parents[1]
SAFETY = ROOT / "tests" / "safety"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def texts(kind: str) -> list[str]:
    """Every message of the evaluation sets of one kind (``attacks`` or ``benign``)."""
    out: list[str] = []
    for path in sorted(SAFETY.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [str(case["text"]) for case in data.get(kind, [])]
    return out


def in_process(history: int) -> dict[str, float]:
    """The classifier step on the critical path: ``check_conversation`` after ``check_message`` (which
    computes the message's own features while the turn's lookup is in flight). Wall and CPU time: on a
    loaded machine the wall time includes waiting for a core."""
    warm_up()
    policy = GuardrailPolicy()
    context = TutorContext(course_title="Scalable Systems", item_title="Why and where to cache", item_body="cache")
    benign = texts("benign")
    messages = benign + texts("attacks") + [("How do I choose a cache TTL? " * 150)[:4000]] * 20
    wall: list[float] = []
    cpu: list[float] = []
    for index, text in enumerate(messages):
        recent = [benign[(index + k) % len(benign)] for k in range(history)]
        verdict = check_message(text, policy, context)
        start, start_cpu = time.perf_counter(), time.thread_time()
        check_conversation(verdict, text, recent, policy, context)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return {
        "messages": float(len(messages)),
        "p50_ms": statistics.median(wall),
        "p95_ms": percentile(wall, 0.95),
        "p99_ms": percentile(wall, 0.99),
        "max_ms": max(wall),
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p95_ms": percentile(cpu, 0.95),
        "cpu_p99_ms": percentile(cpu, 0.99),
    }


async def ttft(url: str, session: str, headers: dict[str, str], text: str, mid: str) -> float | None:
    """Milliseconds to the first ``delta``; None when the turn was refused (no first token to time)."""
    async with connect(f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session}/ws", additional_headers=headers) as ws:
        start = time.perf_counter()
        await ws.send(json.dumps({"type": "message", "id": mid, "text": text}))
        first: float | None = None
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "delta" and first is None:
                first = time.perf_counter() - start
            elif event["type"] == "blocked" and first is None:
                return None
            elif event["type"] in ("done", "blocked", "error"):
                if event["type"] == "error" or first is None:
                    raise RuntimeError(f"turn did not answer: {event}")
                return first * 1000


async def end_to_end(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-classifier-bench-"))
    content = data_dir / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "policies" / "acme.yaml").write_text("input:\n  classifier:\n    enabled: false\n")
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    port = free_port()
    big = "2000000000"
    env = {
        **{k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"},  # the offline tutor
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_CONTENT_DIR": str(content),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "LYCEUM_RATE_LIMIT_TUTOR_USER": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_USER": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_ORG": "100000000/1s",
        "LYCEUM_RATE_LIMIT_API_GLOBAL": "100000000/1s",
        "LYCEUM_BUDGET_ORG_MONTHLY_TOKENS": big,
        "LYCEUM_BUDGET_COURSE_MONTHLY_TOKENS": big,
        "LYCEUM_BUDGET_USER_DAILY_TOKENS": big,
        "LYCEUM_BUDGET_SESSION_TOKENS": big,
    }
    settings = load_settings({k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    await migrate(settings)
    await seed(settings)
    command = [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", str(port)]
    api = subprocess.Popen([*command, "--log-level", "warning", "--ws", "websockets-sansio"], env=env, cwd=ROOT)  # noqa: ASYNC220
    url = f"http://127.0.0.1:{port}"
    # Benign questions the checks let through (a refused turn has no first token to time).
    context = TutorContext(course_title="Backend Foundations")
    questions = [t for t in texts("benign") if len(t) < 400 and check_input(t, GuardrailPolicy(), context).allowed]
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            orgs: dict[str, dict[str, Any]] = {}
            for org, label in (("demo", "classifier on"), ("acme", "classifier off")):
                login = await http.post(
                    f"{url}/v1/auth/login", json={"email": f"learner@{org}.test", "password": "lyceum-demo", "org": org}
                )
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                listed = (await http.get(f"{url}/v1/courses", headers=headers)).json()["items"]
                course = next(c["id"] for c in listed if c["slug"] == "backend-foundations")
                sessions = []
                for _ in range(max(args.concurrency)):
                    created = await http.post(f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course})
                    sessions.append(str(created.json()["id"]))
                orgs[org] = {"label": label, "headers": headers, "sessions": sessions, "samples": {}}
            # Earlier turns in every session (also the warm-up: lazy imports, caches, connections).
            for org, state in orgs.items():
                for index, session in enumerate(state["sessions"]):
                    for turn in range(args.history):
                        text = questions[(index + turn) % len(questions)]
                        await ttft(url, session, state["headers"], text, f"warm-{org}-{index}-{turn}")
            results: dict[str, Any] = {}
            for level in args.concurrency:
                for state in orgs.values():
                    state["samples"][level] = []
                rounds = max(1, args.turns // level)
                for number in range(rounds):
                    for org in ("demo", "acme") if number % 2 == 0 else ("acme", "demo"):
                        state = orgs[org]
                        batch = await asyncio.gather(
                            *(
                                ttft(
                                    url,
                                    state["sessions"][i],
                                    state["headers"],
                                    questions[(number * level + i) % len(questions)],
                                    f"m-{org}-{level}-{number}-{i}",
                                )
                                for i in range(level)
                            )
                        )
                        state["samples"][level] += [sample for sample in batch if sample is not None]
                on, off = orgs["demo"]["samples"][level], orgs["acme"]["samples"][level]
                results[str(level)] = {
                    "turns_each": len(on),
                    "on_p50_ms": statistics.median(on),
                    "on_p95_ms": percentile(on, 0.95),
                    "off_p50_ms": statistics.median(off),
                    "off_p95_ms": percentile(off, 0.95),
                    "added_p50_ms": statistics.median(on) - statistics.median(off),
                    "added_p95_ms": percentile(on, 0.95) - percentile(off, 0.95),
                    "ratio_p95": percentile(on, 0.95) / percentile(off, 0.95),
                }
        return results
    finally:
        api.terminate()
        api.wait(timeout=20)
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300, help="measured turns per org and concurrency level")
    parser.add_argument("--concurrency", default="1,10", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--history", type=int, default=3, help="earlier learner turns in every session")
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    step = in_process(args.history)
    print(json.dumps({"in_process": step}, indent=2))
    print(
        f"\nclassifier step over {step['messages']:.0f} messages with {args.history} earlier turns: "
        f"p50 {step['p50_ms']:.2f} ms, p95 {step['p95_ms']:.2f} ms, p99 {step['p99_ms']:.2f} ms, "
        f"max {step['max_ms']:.2f} ms; CPU p50 {step['cpu_p50_ms']:.2f} ms, p95 {step['cpu_p95_ms']:.2f} ms, "
        f"p99 {step['cpu_p99_ms']:.2f} ms"
    )
    if args.skip_end_to_end:
        return
    results = asyncio.run(end_to_end(args))
    print(json.dumps(results, indent=2))
    print(
        "\n| concurrency | turns each | TTFT p50 on / off ms | TTFT p95 on / off ms | added p50 ms | added p95 ms |",
        end="",
    )
    print(" p95 ratio |")
    print("|---|---|---|---|---|---|---|")
    for level, row in results.items():
        print(
            f"| {level} | {row['turns_each']} | {row['on_p50_ms']:.1f} / {row['off_p50_ms']:.1f} | "
            f"{row['on_p95_ms']:.1f} / {row['off_p95_ms']:.1f} | {row['added_p50_ms']:.1f} | "
            f"{row['added_p95_ms']:.1f} | {row['ratio_p95']:.3f} |"
        )


if __name__ == "__main__":
    main()
