"""A span per SAQ job (SAQ's before/after-process hooks), continuing the trace that enqueued it.

The enqueue side writes the W3C ``traceparent`` into the job's meta (app/lib/jobs.py). ``before`` runs in the
worker's ``process`` task just before SAQ creates the job's own task, which copies the context: the span made
current here is the parent of everything the task function does (its statements, its model call, its logs).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode
from saq.types import Context

from app.lib import tracing

_SPAN = "trace_span"
_TOKEN = "trace_context_token"  # noqa: S105 - a context token, not a secret


async def before(ctx: Context) -> None:
    job = ctx.get("job")
    if job is None or not tracing.enabled():
        return
    parent = tracing.extract({k: v for k, v in (job.meta or {}).items() if isinstance(k, str) and isinstance(v, str)})
    span = tracing.tracer().start_span(
        f"job {job.function}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "saq",
            "messaging.operation.type": "process",
            "messaging.destination.name": job.queue.name if job.queue else "",
            "messaging.message.id": job.id,
            "lyceum.job.function": job.function,
            "lyceum.job.attempt": job.attempts,
        },
    )
    extra: Any = ctx
    extra[_SPAN] = span
    extra[_TOKEN] = otel_context.attach(tracing.trace_context_with(span))


async def after(ctx: Context) -> None:
    extra: Any = ctx
    span = extra.pop(_SPAN, None)
    token = extra.pop(_TOKEN, None)
    if span is None:
        return
    job = ctx.get("job")
    failure = ctx.get("exception")
    if failure is not None:
        tracing.mark_error(span, failure)
    if job is not None:
        span.set_attribute("lyceum.job.status", str(getattr(job.status, "name", job.status)).lower())
        if job.error and failure is None:
            span.set_status(Status(StatusCode.ERROR, "job failed"))
    span.end()
    if token is not None:
        otel_context.detach(token)
