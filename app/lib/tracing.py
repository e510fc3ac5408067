"""OpenTelemetry traces (OTLP over HTTP), off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

One trace follows a request from the HTTP/WebSocket span through its database statements and Redis calls to
the SAQ job it enqueued (the W3C ``traceparent`` rides in the job's meta) and the model call the job or tutor
turn makes. docs/observability.md lists the spans and their attributes.

Off (the default) costs nothing: no provider exists, ``tracer()`` is the API's no-op tracer, and the HTTP and
database hooks are not even installed (``configured`` is checked once, when the app or engine is built).

Lyceum keeps its own provider instead of installing OpenTelemetry's global one: the global can be set once per
process, and a test process starts many apps. The API and an in-process worker share one provider (counted),
so a test sees both sides of a trace in one export.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.config import Settings

INSTRUMENTATION = "lyceum"
TRACES_PATH = "/v1/traces"
_NOOP: Tracer = trace.NoOpTracer()
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: Tracer = _NOOP
_users = 0


def endpoint_of(settings: Settings) -> str:
    """The collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); empty: tracing off."""
    return settings.otel_exporter_otlp_endpoint.strip()


def configured(settings: Settings) -> bool:
    return bool(endpoint_of(settings))


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint, as the OpenTelemetry spec builds it."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def setup_tracing(settings: Settings, default_service: str) -> TracerProvider | None:
    """Start exporting spans when an endpoint is configured; None (and nothing installed) when not.

    Each call that returns a provider must be paired with ``shutdown_tracing``, which flushes the last
    spans when the last user (the API's lifespan, the worker) stops."""
    global _provider, _tracer, _users
    if not configured(settings):
        return None
    with _lock:
        if _provider is None:
            # Imported here: a process with tracing off never loads the SDK or the exporter.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

            service = settings.otel_service_name or default_service
            provider = TracerProvider(
                resource=Resource.create({"service.name": service}),
                sampler=ParentBased(TraceIdRatioBased(settings.otel_sample_ratio)),
            )
            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint_of(settings))))
            )
            _provider, _tracer = provider, provider.get_tracer(INSTRUMENTATION)
        _users += 1
        return _provider


def shutdown_tracing() -> None:
    """Flush and stop the exporter when its last user stops; nothing when tracing is off."""
    global _provider, _tracer, _users
    with _lock:
        if _provider is None:
            return
        _users -= 1
        if _users > 0:
            return
        provider, _provider, _tracer = _provider, None, _NOOP
    provider.shutdown()  # flushes the batch processor


def force_flush() -> bool:
    """Export every finished span now (tests; a worker before it exits)."""
    provider = _provider
    return provider.force_flush() if provider is not None else True


def active_provider() -> TracerProvider | None:
    return _provider


def tracer() -> Tracer:
    """Lyceum's tracer: the SDK's while tracing is on, the API's no-op tracer otherwise."""
    return _tracer


def enabled() -> bool:
    return _provider is not None


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: dict[str, Any] | None = None) -> Iterator[Span]:
    """A span around a block, current inside it; exceptions are recorded and mark it as an error."""
    with _tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's W3C trace context (``traceparent``) into ``carrier``, if a span is active."""
    if trace.get_current_span().get_span_context().is_valid:
        _PROPAGATOR.inject(carrier)


def extract(carrier: dict[str, str]) -> otel_context.Context:
    return _PROPAGATOR.extract(carrier)


def mark_error(current: Span, exc: BaseException) -> None:
    current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def add_trace_ids(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the active span's ``trace_id`` and ``span_id``, so a log line leads to its trace."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def redis_span(command: str) -> Any:
    """A client span around one Redis command (app/lib/redis.py): its name, never its keys or values."""
    operation = command.upper()
    return _tracer.start_as_current_span(
        operation or "redis",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "redis", "db.operation.name": operation},
        record_exception=False,
    )


# Database: one client span per statement, from SQLAlchemy's cursor events. Installed only when configured.

_DB_SPAN_KEY = "lyceum.trace_span"
_MAX_STATEMENT = 2000


def instrument_engine(engine: AsyncEngine) -> None:
    """Trace every statement on ``engine`` (the SQL text with its placeholders, never the bound values)."""
    from sqlalchemy import event

    event.listen(engine.sync_engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine.sync_engine, "after_cursor_execute", _after_cursor_execute)
    event.listen(engine.sync_engine, "handle_error", _handle_error)


def _operation(statement: str) -> str:
    word = statement.lstrip().split(None, 1)
    return word[0].upper() if word else "SQL"


def _statement_attributes(statement: str, database: str, host: str) -> tuple[str, dict[str, Any]]:
    operation = _operation(statement)
    return f"{operation} {database}".strip(), {
        "db.system.name": "postgresql",
        "db.namespace": database,
        "db.operation.name": operation,
        "db.query.text": statement[:_MAX_STATEMENT],
        "server.address": host,
    }


def statement_span(statement: str, database: str, host: str) -> Any:
    """A client span around one statement run outside SQLAlchemy (the one-round-trip reads, app/db/reads.py);
    callers check ``enabled()`` first, so tracing off costs them that check only."""
    name, attributes = _statement_attributes(statement, database, host)
    return _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def _before_cursor_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if not enabled():
        return
    url = conn.engine.url
    name, attributes = _statement_attributes(statement, url.database or "", url.host or "")
    stale = conn.info.pop(_DB_SPAN_KEY, None)
    if stale is not None:  # a statement cancelled between the events: end its span rather than misattribute
        stale.end()
    conn.info[_DB_SPAN_KEY] = _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def _after_cursor_execute(conn: Any, *_: Any) -> None:
    started = conn.info.pop(_DB_SPAN_KEY, None)
    if started is not None:
        started.end()


def _handle_error(context: Any) -> None:
    conn = context.connection
    failed = conn.info.pop(_DB_SPAN_KEY, None) if conn is not None else None
    if failed is not None:
        mark_error(failed, context.original_exception)
        failed.end()


def trace_context_with(current: Span) -> otel_context.Context:
    """The current context with ``current`` as its active span (to ``attach`` across hooks)."""
    return trace.set_span_in_context(current)
