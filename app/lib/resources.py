"""What the edge mechanisms in `app/lib` (authentication, idempotency, rate limiting, pagination, sockets)
need from the process-wide resources, declared here so that `app/lib` imports neither the domain nor the
server. The server stores its component bundle on ``app.state`` under ``STATE_KEY``; that bundle satisfies
``EdgeResources`` structurally."""

from __future__ import annotations

from typing import Any, Protocol

from redis.asyncio import Redis

from app.config import Settings
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.security.denylist import TokenDenylist
from app.lib.security.tokens import TokenCodec

STATE_KEY = "components"  # app.state attribute holding the process-wide components


class EdgeResources(Protocol):
    settings: Settings
    limiter_redis: Redis  # on the request path: the fail-fast client (app/lib/redis.py)
    tokens: TokenCodec
    denylist: TokenDenylist
    limiter: TokenBucketLimiter


def edge_resources(app: Any) -> EdgeResources:
    """The resources of a running Litestar app (``connection.app`` or ``scope["app"]``)."""
    resources: EdgeResources = getattr(app.state, STATE_KEY)
    return resources
