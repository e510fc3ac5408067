"""``lyceum_queue_depth{queue}``, the worker autoscaler's input (deploy/k8s, docs/deploy.md): real jobs on a real
SAQ queue in Redis, read when /metrics is scraped; Redis failing costs the sample, never the scrape."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import RedisError
from saq import Job, Queue

from app.config import Settings
from app.lib.jobs import QUEUE_NAME, LyceumQueue, create_queue
from app.lib.observability import REGISTRY
from app.lib.queue_metrics import refresh_queue_depth

Client = AsyncTestClient[Litestar]


def _depth_in(exposition: str) -> float | None:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "lyceum_queue_depth" and sample.labels.get("queue") == QUEUE_NAME:
                return sample.value
    return None


def _errors() -> float:
    return REGISTRY.get_sample_value("lyceum_queue_depth_errors_total") or 0.0


async def _enqueue(queue: Queue, count: int) -> list[Job]:
    # A task name no worker knows: these jobs only have to wait in the queue, never run.
    jobs = [await queue.enqueue("deploy_test_queue_depth", key=f"queue-depth:{uuid.uuid4()}") for _ in range(count)]
    assert all(job is not None for job in jobs)
    return [job for job in jobs if job is not None]


@pytest.fixture
async def own_queue(redis_url: str, redis_prefix: str) -> AsyncIterator[Queue]:
    """A queue of this test alone (its own key prefix), so other tests' jobs cannot change its depth."""
    queue: Queue = LyceumQueue.from_url(redis_url, name=f"{redis_prefix}queue-depth-{uuid.uuid4().hex}:{QUEUE_NAME}")
    yield queue
    await queue.disconnect()


async def test_depth_counts_the_jobs_waiting(own_queue: Queue) -> None:
    await refresh_queue_depth(own_queue)
    assert REGISTRY.get_sample_value("lyceum_queue_depth", {"queue": QUEUE_NAME}) == 0
    jobs = await _enqueue(own_queue, 3)
    await refresh_queue_depth(own_queue)
    assert REGISTRY.get_sample_value("lyceum_queue_depth", {"queue": QUEUE_NAME}) == 3
    await own_queue.abort(jobs[0], "test")  # a job that leaves the queue leaves the depth
    await refresh_queue_depth(own_queue)
    assert REGISTRY.get_sample_value("lyceum_queue_depth", {"queue": QUEUE_NAME}) == 2


async def test_metrics_endpoint_reports_the_app_queue(client: Client, settings: Settings) -> None:
    queue = create_queue(settings)  # the same Redis keys as the app's own queue
    try:
        jobs = await _enqueue(queue, 4)
        try:
            response = await client.get("/metrics")
            assert response.status_code == 200
            waiting = await queue.count("queued")
            # The app's queue may hold other tests' jobs too; no worker runs in this test, so ours are all there.
            assert waiting >= 4
            assert _depth_in(response.text) == waiting
        finally:
            for job in jobs:  # a later test's worker must not find jobs of an unknown task
                await queue.abort(job, "test")
    finally:
        await queue.disconnect()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return port  # nothing listens on it now: connecting is refused at once


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers: a hung Redis."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


@pytest.mark.parametrize("port_fixture", ["closed_port", "silent_port"])
async def test_unreachable_redis_is_counted_not_raised(port_fixture: str, request: pytest.FixtureRequest) -> None:
    port = request.getfixturevalue(port_fixture)
    queue: Queue = LyceumQueue.from_url(f"redis://127.0.0.1:{port}/0", name=f"queue-depth-down:{QUEUE_NAME}")
    try:
        before = _errors()
        # The timeout only bounds the wait on the silent server; nothing asserts how long anything took.
        await refresh_queue_depth(queue, timeout=0.5)
        assert _errors() == before + 1
        # No stale number for the autoscaler: the sample is gone until Redis answers again.
        assert REGISTRY.get_sample_value("lyceum_queue_depth", {"queue": QUEUE_NAME}) is None
    finally:
        with contextlib.suppress(RedisError, OSError):  # SAQ's disconnect talks to the server that is not there
            await queue.disconnect()
