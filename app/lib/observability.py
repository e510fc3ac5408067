"""Structured logs (structlog), Prometheus metrics and the request id carried by every response and log line."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.lib.tracing import add_trace_ids

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_LATENCY = Histogram(
    "lyceum_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RATE_LIMIT_DECISIONS = Counter(
    "lyceum_rate_limit_decisions_total", "Rate-limit decisions", ["policy", "decision"], registry=REGISTRY
)
RATE_LIMIT_ERRORS = Counter(
    "lyceum_rate_limit_backend_errors_total",
    "Limiter could not reach Redis; the policy's fail mode applied",
    ["policy", "mode"],
    registry=REGISTRY,
)
DENYLIST_ERRORS = Counter(
    "lyceum_token_denylist_errors_total",
    "Revocation cache (Redis) unusable; mode=database: the token was checked against PostgreSQL instead, "
    "mode=stale: a revocation could not clear the cache (it expires within LYCEUM_AUTH_CACHE_SECONDS)",
    ["mode"],
    registry=REGISTRY,
)
REDIS_CIRCUIT_OPENED = Counter(
    "lyceum_redis_circuit_opened_total",
    "Times the fail-fast Redis client stopped calling Redis after consecutive failures",
    registry=REGISTRY,
)
DB_POOL_CHECKED_OUT = Gauge("lyceum_db_pool_checked_out", "Database connections in use", registry=REGISTRY)
DB_POOL_SIZE = Gauge("lyceum_db_pool_size", "Database connections held by the pool", registry=REGISTRY)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


_CHATTY_LIBRARY_LOGGERS = ("httpx", "httpcore", "chromadb", "httpx2")


def configure_logging(level: str, json: bool) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        add_trace_ids,  # trace_id and span_id while a span is active (OpenTelemetry, app/lib/tracing.py)
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries' own request lines (httpx under the Chroma client, the SDK) are not Lyceum's log: a console
    # full of `INFO:httpx:HTTP Request: ...` after the banner hid the lines that matter. DEBUG shows them.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in _CHATTY_LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


def _route_template(scope: Scope) -> str:
    handler = scope.get("route_handler")
    template = scope.get("path_template")
    if template:
        return str(template)
    return next(iter(handler.paths), "unmatched") if handler is not None else "unmatched"


class RequestContextMiddleware:
    """Outermost ASGI wrapper: request id, bound log context, access log, latency histogram.

    Wraps the whole Litestar app (not one route) so unmatched paths get an id and a metric too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("lyceum.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if scope["type"] == ScopeType.HTTP:
                method = scope["method"]
                route = _route_template(scope)
                HTTP_LATENCY.labels(method, route, str(status)).observe(elapsed)
                # request_id, org_id and user_id come from the bound context vars.
                self.log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
