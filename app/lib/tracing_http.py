"""The server span of every HTTP request and WebSocket connection (installed only when tracing is on).

Outermost, outside the request-context middleware, so the access log line is written inside the span and
carries its trace id. A ``traceparent`` header from the caller (a proxy, a browser's tracing agent) makes the
request a child of the caller's trace; the response carries the trace back as ``traceparent`` too.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.lib import tracing

_PROPAGATED = (b"traceparent", b"tracestate")


def _route(scope: Scope) -> str:
    template = scope.get("path_template")
    if template:
        return str(template)
    handler = scope.get("route_handler")
    return next(iter(handler.paths), "") if handler is not None else ""


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET) or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _PROPAGATED}
        websocket = scope["type"] == ScopeType.WEBSOCKET
        method = "WS" if websocket else str(scope.get("method", "GET"))
        attributes = {
            "http.request.method": method if not websocket else "GET",
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.name": "websocket" if websocket else "http",
        }
        token = otel_context.attach(tracing.extract(headers))
        try:
            with tracing.tracer().start_as_current_span(
                f"{method} {scope['path']}", kind=SpanKind.SERVER, attributes=attributes
            ) as span:
                status = 0

                async def send_traced(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        carrier: dict[str, str] = {}
                        tracing.inject(carrier)
                        if carrier:
                            MutableScopeHeaders.from_message(message)["traceparent"] = carrier["traceparent"]
                    await send(message)

                try:
                    await self.app(scope, receive, send_traced)
                finally:
                    route = _route(scope)
                    if route:  # the low-cardinality name once routing has matched a template
                        span.update_name(f"{method} {route}")
                        span.set_attribute("http.route", route)
                    if status:
                        span.set_attribute("http.response.status_code", status)
                        if status >= 500:
                            span.set_status(Status(StatusCode.ERROR))
        finally:
            otel_context.detach(token)
