"""Liveness, readiness and Prometheus metrics (no authentication; no org data)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.config import Settings
from app.domain.components import Components
from app.lib.auth import PUBLIC
from app.lib.observability import DB_POOL_CHECKED_OUT, DB_POOL_SIZE, REGISTRY
from app.lib.queue_metrics import refresh_queue_depth
from app.lib.release import VERSION


class SystemController(Controller):
    tags = ["System"]
    opt = {PUBLIC: True}
    include_in_schema = True

    @get("/health", summary="Liveness: the process is up")
    async def health(self) -> dict[str, str]:
        return {"status": "ok", "version": VERSION}

    @get("/ready", summary="Readiness: PostgreSQL and Redis answer")
    async def ready(self, components: Components) -> Response[dict[str, Any]]:
        checks = dict(
            zip(
                ("postgres", "redis"),
                await asyncio.gather(_check(self._postgres(components)), _check(components.redis.ping())),
                strict=True,
            )
        )
        ok = all(v == "ok" for v in checks.values())
        return Response(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
        )

    @staticmethod
    async def _postgres(components: Components) -> None:
        async with components.db.engine.connect() as conn:
            await conn.execute(text("select 1"))

    @get("/metrics", summary="Prometheus metrics", media_type=CONTENT_TYPE_LATEST, include_in_schema=False)
    async def metrics(self, components: Components) -> bytes:
        pool: Any = components.db.engine.pool
        DB_POOL_CHECKED_OUT.set(pool.checkedout())
        DB_POOL_SIZE.set(pool.size())
        await refresh_queue_depth(components.queue)  # the worker autoscaler's input; never fails the scrape
        return bytes(generate_latest(REGISTRY))


class PublicConfig(msgspec.Struct):
    """What the web app needs to know before anyone signs in. Nothing secret, nothing per org."""

    demo_mode: bool
    version: str  # the release (app/lib/release.py), shown in the web app's footer


class ConfigController(Controller):
    path = "/config"
    tags = ["System"]
    opt = {PUBLIC: True}

    @get("/", summary="Public web-app settings (demo mode)")
    async def config(self, settings: Settings) -> PublicConfig:
        return PublicConfig(demo_mode=settings.demo_mode, version=VERSION)


async def _check(awaitable: Any) -> str:
    try:
        await asyncio.wait_for(awaitable, timeout=2)
    except Exception as exc:  # readiness reports any failure as data, never raises
        return f"error: {type(exc).__name__}"
    return "ok"
