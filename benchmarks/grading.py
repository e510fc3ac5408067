"""Grading throughput: submissions from POST to graded-and-routed through SAQ, against a no-op job's rate.

In one run, against the same Redis and worker settings (concurrency 10):
- baseline: N no-op SAQ jobs (``ping``) enqueued at once, until all are complete → jobs/s;
- grading: N multiple-choice submissions POSTed through the API (in process, ASGI), graded by the worker
  (exact grading, routing, grade row, progress events, feed event) until every one reads ``graded``.
The model is not involved (multiple choice grades exactly), so the figure is the platform's overhead:
API, transactions with RLS, the queue and the worker. Ratio = grading/s ÷ no-op jobs/s (goal ≥ 0.5).

Uses DATABASE_URL / REDIS_URL when set, else embedded servers. `uv run python benchmarks/grading.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any
from uuid import UUID

import httpx

from app.asgi import create_app
from app.config import Settings
from app.lib.events import EventBus
from app.lib.jobs import create_queue
from app.server.components import components_of
from benchmarks.stack import start_stack
from jobs.worker import create_worker


async def noop_rate(settings: Settings, jobs: int) -> float:
    queue = create_queue(settings)
    started = time.perf_counter()
    handles = [await queue.enqueue("ping", message=str(i)) for i in range(jobs)]
    for job in handles:
        assert job is not None
        await job.refresh(until_complete=60)
    elapsed = time.perf_counter() - started
    await queue.disconnect()
    return jobs / elapsed


async def grading_rate(
    client: httpx.AsyncClient, headers: dict[str, str], quiz: dict[str, Any], n: int, bus: EventBus, org_id: UUID
) -> float:
    """POST n submissions, then count their ``submission.graded`` events on the org's feed (the signal an
    instructor's screen gets), so no polling competes with the worker for the CPU."""
    body = {"choices": [0] * len(quiz["spec"]["questions"])}
    async with bus.subscribe(org_id) as feed:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(20)  # like 20 learners pressing Submit at once, continuously

        async def post() -> str:
            async with semaphore:
                answer = await client.post(f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json=body)
                return str(answer.json()["id"])

        pending = set(await asyncio.gather(*(post() for _ in range(n))))
        async for event in feed:
            if event.type == "submission.graded":
                pending.discard(event.data["submission_id"])
                if not pending:
                    break
    return n / (time.perf_counter() - started)


async def measure(args: argparse.Namespace) -> None:
    bench = await start_stack("grading", LYCEUM_REVIEW_SAMPLE_RATE="0", LYCEUM_RATE_LIMIT_ENABLED="false")
    settings = bench.settings
    worker = create_worker(settings, handle_signals=False)
    worker_task = asyncio.create_task(worker.start())
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar is an ASGI app
    try:
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client,
        ):
            login = {"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
            tokens = (await client.post("/v1/auth/login", json=login)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            course = next(
                c for c in (await client.get("/v1/courses", headers=headers)).json()["items"]
                if c["slug"] == "backend-foundations"
            )  # fmt: skip
            await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
            detail = (await client.get(f"/v1/courses/{course['id']}", headers=headers)).json()
            item = next(i for m in detail["modules"] for i in m["items"] if i["slug"] == "http-fundamentals-quiz")
            quiz = (await client.get(f"/v1/items/{item['id']}/assessment", headers=headers)).json()
            org_id = UUID((await client.get("/v1/me", headers=headers)).json()["org_id"])
            bus = components_of(app).events
            await grading_rate(client, headers, quiz, 20, bus, org_id)  # warm up connections and caches
            rounds = []
            for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
                noop = await noop_rate(settings, args.jobs)
                graded = await grading_rate(client, headers, quiz, args.jobs, bus, org_id)
                rounds.append((noop, graded))
                print(
                    f"round: no-op {noop:7.1f} jobs/s   grading {graded:7.1f} submissions/s   ratio {graded / noop:.2f}"
                )
    finally:
        await worker.stop()
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        bench.stop()
    ratios = [g / n for n, g in rounds]
    median_round = sorted(rounds, key=lambda r: r[1] / r[0])[len(rounds) // 2]
    print(f"median: no-op {median_round[0]:.1f} jobs/s, grading {median_round[1]:.1f} submissions/s")
    print(f"ratio grading / no-op: median {statistics.median(ratios):.2f} (worst {min(ratios):.2f}); goal >= 0.50")


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
