"""Grading throughput: submissions from POST to graded-and-announced, against a no-op SAQ job's rate.

In one run, against the same Redis, the same worker process (``lyceum worker``, concurrency 10, a process
of its own as in production) and the same PostgreSQL:
- baseline: N no-op SAQ jobs (``ping``) enqueued at once and awaited → jobs/s;
- grading: N multiple-choice submissions POSTed through the API (in this process, ASGI) by 20 learners,
  each with one submission in flight at a time, counted done when their ``submission.graded`` event
  arrives on the org's event bus (what an instructor's screen gets; no polling competes for the CPU).
The model is not involved (multiple choice grades exactly), so the figure is the platform's overhead.
Ratio = grading/s ÷ no-op jobs/s (goal ≥ 0.5). Beside the rates, CPU time per operation read from /proc
for this process (driver + API) and the worker process: stable on a loaded machine, where rates are not.

``--kind short_answer`` measures the queued path instead (offline key-term grader, no model): POST →
job → worker → graded, for comparison with the exact path.

Uses DATABASE_URL / REDIS_URL when set, else embedded servers. `uv run python benchmarks/grading.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from app.asgi import create_app
from app.config import Settings
from app.lib.events import EventBus
from app.lib.jobs import create_queue
from app.server.components import components_of
from benchmarks.procstat import cpu_seconds
from benchmarks.stack import start_stack
from tests.support.grading import assessment_spec
from tests.support.progress import open_assessments_of

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = 20  # like 20 learners pressing Submit continuously, one answer in flight each
QUIZ, ESSAY = "http-fundamentals-quiz", "schema-review"
# Settled and announced: graded, or (short answers the offline grader is unsure of) sent to a person.
DONE = frozenset({"submission.graded", "submission.escalated"})


@dataclass
class Round:
    noop: float  # jobs/s
    graded: float  # submissions/s
    noop_worker_ms: float  # worker CPU per no-op job
    api_ms: float  # this process's CPU (driver + API) per submission
    worker_ms: float  # worker CPU per submission


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env, start_new_session=True
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


async def noop_rate(settings: Settings, jobs: int, worker_pid: int) -> tuple[float, float]:
    """(jobs/s, worker CPU ms per job) for ``jobs`` no-op jobs enqueued at once."""
    queue = create_queue(settings)
    cpu = cpu_seconds(worker_pid)
    started = time.perf_counter()
    handles = [await queue.enqueue("ping", message=str(i)) for i in range(jobs)]
    for job in handles:
        assert job is not None
        await job.refresh(until_complete=60)
    elapsed = time.perf_counter() - started
    used = cpu_seconds(worker_pid) - cpu
    await queue.disconnect()
    return jobs / elapsed, used * 1000 / jobs


async def grading_rate(
    client: httpx.AsyncClient,
    learners: list[dict[str, str]],
    target: dict[str, Any],
    body: dict[str, Any],
    n: int,
    bus: EventBus,
    org_id: UUID,
) -> float:
    """POST n submissions (the learners take turns, one in flight each) and count their
    ``submission.graded`` (or ``submission.escalated``) events on the org's feed, read while posting (an
    exact grade is announced before its POST returns)."""
    async with bus.subscribe(org_id) as feed:
        started = time.perf_counter()
        owners: dict[str, dict[str, str]] = {}  # submission id -> its learner's headers
        announced: set[str] = set()
        posted = asyncio.Event()

        async def learner(headers: dict[str, str], count: int) -> None:
            for _ in range(count):
                keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
                answer = await client.post(f"/v1/assessments/{target['id']}/submissions", headers=keyed, json=body)
                assert answer.status_code == 202, answer.text
                owners[str(answer.json()["id"])] = headers

        async def post_all() -> None:
            share = [n // len(learners) + (1 if i < n % len(learners) else 0) for i in range(len(learners))]
            await asyncio.gather(*(learner(h, k) for h, k in zip(learners, share, strict=True)))
            posted.set()

        async def settled(submission_id: str) -> bool:
            got = await client.get(f"/v1/submissions/{submission_id}", headers=owners[submission_id])
            return bool(got.json()["status"] in ("graded", "in_review", "failed"))

        async def read() -> None:
            """Until every submission is announced. After 10 quiet seconds the rest are read (publishing is
            best effort: a Redis call past its short timeout on a saturated machine drops the event, never
            the grade), and the count of those is printed."""
            quiet = time.monotonic()
            while not (posted.is_set() and owners.keys() <= announced):
                if poster.done() and poster.exception() is not None:
                    raise RuntimeError("a submission failed") from poster.exception()
                delivery = await feed.next(0.01)  # None after 10 ms without one: look at ``posted`` again
                if delivery is not None and delivery.event.type in DONE:
                    announced.add(delivery.event.data["submission_id"])
                    quiet = time.monotonic()
                elif posted.is_set() and time.monotonic() - quiet > 10:
                    missing = [i for i in owners if i not in announced]
                    found = [i for i in missing if await settled(i)]
                    announced.update(found)
                    quiet = time.monotonic()
                    if found:
                        print(f"  ({len(found)} settled without an event on the feed)", flush=True)

        poster = asyncio.create_task(post_all())
        await read()
        await poster
    return n / (time.perf_counter() - started)


async def bearer(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    login = {"email": email, "password": password, "org": "demo"}
    return {"Authorization": f"Bearer {(await client.post('/v1/auth/login', json=login)).json()['access_token']}"}


async def new_learners(client: httpx.AsyncClient, settings: Settings, count: int) -> list[dict[str, str]]:
    """``count`` fresh learners enrolled in the course with its assessments opened (prerequisites and the
    quiz's competency gate): each learner's progress stream starts short, as a real learner's does."""
    admin = await bearer(client, "admin@demo.test", "lyceum-demo")
    courses = (await client.get("/v1/courses", headers=admin, params={"limit": 100})).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == "backend-foundations")
    learners = []
    for _ in range(count):
        email = f"bench-{uuid.uuid4().hex[:10]}@demo.test"
        user = {"email": email, "name": "Bench Learner", "roles": ["learner"], "password": "bench-password-1"}
        assert (await client.post("/v1/users", headers=admin, json=user)).status_code == 201
        headers = await bearer(client, email, "bench-password-1")
        assert (await client.post(f"/v1/courses/{course_id}/enrollments", headers=headers)).status_code in (200, 201)
        await open_assessments_of(settings, email, "backend-foundations")
        learners.append(headers)
    return learners


async def measure(args: argparse.Namespace) -> None:
    bench = await start_stack(
        "grading",
        LYCEUM_REVIEW_SAMPLE_RATE="0",
        LYCEUM_RATE_LIMIT_ENABLED="false",
        LYCEUM_RATE_LIMIT_SUBMIT_USER="100000/60s",
        ANTHROPIC_API_KEY="",  # short answers: the offline grader, never a model
    )
    settings = bench.settings
    worker = start_worker(bench.env)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar is an ASGI app
    rounds: list[Round] = []
    try:
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client,
        ):
            await noop_rate(settings, 1, worker.pid)  # the worker is up and fetching
            learners = await new_learners(client, settings, LEARNERS)
            slug = QUIZ if args.kind == "multiple_choice" else ESSAY
            course = next(
                c for c in (await client.get("/v1/courses", headers=learners[0])).json()["items"]
                if c["slug"] == "backend-foundations"
            )  # fmt: skip
            detail = (await client.get(f"/v1/courses/{course['id']}", headers=learners[0])).json()
            item = next(i for m in detail["modules"] for i in m["items"] if i["slug"] == slug)
            target = (await client.get(f"/v1/items/{item['id']}/assessment", headers=learners[0])).json()
            assert "spec" in target, target
            spec = assessment_spec(slug)
            # Right answers: wrong ones would lower the learner's mastery and close the quiz's own gate.
            body: dict[str, Any] = (
                {"choices": [q["answer"] for q in spec["questions"]]}
                if args.kind == "multiple_choice"
                else {"text": "A users table with a primary key, foreign keys and a unique constraint."}
            )
            org_id = UUID((await client.get("/v1/me", headers=learners[0])).json()["org_id"])
            bus = components_of(app).events
            await grading_rate(client, learners, target, body, 2 * LEARNERS, bus, org_id)  # first grades, warm-up
            for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
                noop, noop_ms = await noop_rate(settings, args.jobs, worker.pid)
                api_cpu, worker_cpu = cpu_seconds(os.getpid()), cpu_seconds(worker.pid)
                graded = await grading_rate(client, learners, target, body, args.jobs, bus, org_id)
                api_ms = (cpu_seconds(os.getpid()) - api_cpu) * 1000 / args.jobs
                worker_ms = (cpu_seconds(worker.pid) - worker_cpu) * 1000 / args.jobs
                rounds.append(Round(noop, graded, noop_ms, api_ms, worker_ms))
                print(
                    f"round: no-op {noop:7.1f} jobs/s ({noop_ms:.2f} ms worker CPU/job)   "
                    f"grading {graded:7.1f} submissions/s ({api_ms:.2f} ms API+driver, {worker_ms:.2f} ms worker "
                    f"CPU/submission)   ratio {graded / noop:.2f}",
                    flush=True,
                )
    finally:
        stop_worker(worker)
        bench.stop()
    ratios = [r.graded / r.noop for r in rounds]
    median = sorted(rounds, key=lambda r: r.graded / r.noop)[len(rounds) // 2]
    print(f"kind: {args.kind}; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"median: no-op {median.noop:.1f} jobs/s, grading {median.graded:.1f} submissions/s")
    api_ms, worker_ms = statistics.median(r.api_ms for r in rounds), statistics.median(r.worker_ms for r in rounds)
    noop_ms = statistics.median(r.noop_worker_ms for r in rounds)
    print(
        f"CPU per submission, median of rounds: API+driver {api_ms:.2f} ms, worker {worker_ms:.2f} ms; "
        f"per no-op job: worker {noop_ms:.2f} ms"
    )
    print(f"ratio grading / no-op: median {statistics.median(ratios):.2f} (worst {min(ratios):.2f}); goal >= 0.50")


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kind", choices=["multiple_choice", "short_answer"], default="multiple_choice")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
