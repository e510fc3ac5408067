"""SAQ task functions. Each is a thin shell around a domain service, like a controller."""

from __future__ import annotations

import time
from typing import Any

from saq.types import Context
from sqlalchemy import text

from app.runtime import Runtime


async def ping(ctx: Context, *, message: str = "pong") -> dict[str, Any]:
    """Round trip through the queue; used by health checks and the queue benchmark."""
    return {"message": message, "at": time.time()}


async def heartbeat(ctx: Context) -> None:
    """Proves the worker can reach PostgreSQL every minute; the last beat is kept in Redis for operators."""
    runtime: Runtime = ctx["runtime"]  # type: ignore[typeddict-item]
    async with runtime.db.transaction(None) as session:
        await session.execute(text("select 1"))
    await runtime.redis.set(f"{runtime.settings.redis_key_prefix}worker:heartbeat", str(time.time()), ex=300)
