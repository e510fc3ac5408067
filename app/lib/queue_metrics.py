"""``lyceum_queue_depth``: jobs waiting in the SAQ queue, read from Redis when /metrics is scraped.

The worker Deployment scales on it (deploy/k8s, docs/deploy.md): prometheus-adapter turns it into an
External metric for the worker's HorizontalPodAutoscaler. Every API process reports the same, deployment-wide
number (the queue lives in Redis), so the adapter's rule takes the max over the series, not the sum.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError
from saq import Queue

from app.lib.jobs import QUEUE_NAME
from app.lib.observability import REGISTRY

QUEUE_DEPTH = Gauge(
    "lyceum_queue_depth",
    "Jobs waiting in the background queue (enqueued, not yet taken by a worker), read at scrape time",
    ["queue"],
    registry=REGISTRY,
)
QUEUE_DEPTH_ERRORS = Counter(
    "lyceum_queue_depth_errors_total",
    "Scrapes that could not read the queue depth from Redis (the depth is left out of that scrape)",
    registry=REGISTRY,
)
# A scrape must answer even while Redis hangs: Prometheus' own scrape timeout defaults to 10 s.
READ_TIMEOUT_SECONDS = 2.0


async def refresh_queue_depth(queue: Queue, timeout: float = READ_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109
    """Set the gauge from Redis; on failure count the error and drop the sample instead of raising."""
    try:
        depth = await asyncio.wait_for(queue.count("queued"), timeout)
    except (RedisError, OSError, TimeoutError):
        QUEUE_DEPTH_ERRORS.inc()
        # No sample rather than the last one: a stale depth would keep the autoscaler acting on old news,
        # while a missing one makes the HPA hold the worker count where it is.
        QUEUE_DEPTH.clear()
        return
    QUEUE_DEPTH.labels(QUEUE_NAME).set(depth)
