"""What happens to an HTTP request before Litestar routes it: HEAD, and CORS when it is configured.

**HEAD** is answered on every GET route as RFC 9110 asks: the request runs as a GET and only the
status line and headers (``Content-Length`` included) reach the client. Routes without GET answer
HEAD with 405 and ``Allow``, like any other method they do not have.

**OPTIONS**: Litestar answers it on every route with 204 and ``Allow``, without authentication (a
browser's preflight never carries a token; the role guards let it through, app/lib/auth.py). Its
``Allow`` is computed when the first handler of a path is registered, so a path whose handlers come
from two places (``GET`` and ``POST /v1/users``) listed only some; here it is set from the final route
table, HEAD included wherever GET is.

**CORS** (``LYCEUM_CORS_ORIGINS``) is off by default: the web app is served from the API's own origin.
When origins are listed, ``CORSMiddleware`` answers preflights for them (204 with the allowed method,
headers and a max age) and refuses the rest with ``403 problem+json``; actual responses to a listed
origin carry ``Access-Control-Allow-Origin`` and expose Lyceum's response headers. Credentials
(cookies) are allowed cross-origin only with ``LYCEUM_CORS_ALLOW_CREDENTIALS=true``, which the settings
accept only for an explicit origin list (never ``*``). See docs/security.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Response
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.lib.errors import LyceumError
from app.lib.problems import problem_response

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Request headers a cross-origin client may send (CORS-safelisted ones are always allowed).
CORS_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "last-event-id",
    "x-request-id",
)
# Response headers a cross-origin client may read besides the CORS-safelisted ones.
CORS_EXPOSED_HEADERS = (
    "Deprecation",
    "Link",
    "Location",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "Sunset",
    "X-Request-ID",
)
CORS_MAX_AGE_SECONDS = 600


class CORSRefused(LyceumError):
    status, slug, title = 403, "cors-refused", "Cross-origin request refused"


class Methods:
    """HEAD as GET without the body; the complete ``Allow`` on OPTIONS answers."""

    def __init__(self, app: ASGIApp, allowed: dict[str, str]) -> None:
        self.app = app
        self.allowed = allowed  # route path template -> Allow header value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, self._with_allow(scope, send))
            return
        # A copy: the server keeps its own view of the scope and must still see HEAD (it then sends no
        # body itself, and knows the response length comes from the header).
        as_get: Any = {**scope, "method": "GET"}
        finished = False

        async def send_headers_only(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not finished:
                # The first body message ends the response; a streaming handler then sees the client
                # leave (the server answers its next receive() with http.disconnect) and stops.
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            await self.app(as_get, receive, send_headers_only)
        finally:
            # The access log and latency histogram (outside) read from the scope which route answered.
            for key in ("path_template", "route_handler"):
                if key in as_get:
                    scope[key] = as_get[key]

    def _with_allow(self, scope: Scope, send: Send) -> Send:
        async def send_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 204:
                # Routing has run by now and recorded which route answered.
                allow = self.allowed.get(str(scope.get("path_template", "")))
                headers = MutableScopeHeaders.from_message(message)
                if allow and "allow" in headers:
                    headers["Allow"] = allow
            await send(message)

        return send_allow


def allowed_methods(app: Litestar) -> dict[str, str]:
    """``Allow`` per route (keyed like the scope's ``path_template``: ``/v1/users/{user_id}``): its
    methods, and HEAD wherever GET is (``Methods`` answers it)."""
    allowed: dict[str, str] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods = set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
            allowed[route.path_format] = ", ".join(sorted(methods))
    return allowed


class CORSMiddleware:
    """CORS for the origins in ``LYCEUM_CORS_ORIGINS`` (``*`` for any origin, without credentials)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.any_origin = "*" in settings.cors_origins
        self.origins = frozenset(settings.cors_origins) - {"*"}
        self.credentials = settings.cors_allow_credentials

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, origin, headers)
            return
        if not self.allows(origin):
            await self.app(scope, receive, send)  # served, but the browser will not let the page read it
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableScopeHeaders.from_message(message)
                for name, value in self._origin_headers(origin).items():
                    if name == "Vary":
                        response_headers.add(name, value)  # keep the handler's own Vary values
                    else:
                        response_headers[name] = value
                response_headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSED_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _origin_headers(self, origin: str) -> dict[str, str]:
        headers = {}
        if self.any_origin and not self.credentials:
            headers["Access-Control-Allow-Origin"] = "*"
        else:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Vary"] = "Origin"  # the answer depends on the asking origin: caches must key on it
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: str, headers: Headers) -> None:
        method = headers.get("access-control-request-method", "").strip().upper()
        asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        refused = _refusal(self.allows(origin), method, asked)
        request = scope["litestar_app"].request_class(scope=scope, receive=receive, send=send)
        response: Response[Any]
        if refused:
            error = CORSRefused(refused)
            response = problem_response(
                request, status=error.status, type_=error.type, title=error.title, detail=error.detail
            )
        else:
            response = Response(
                None,
                status_code=204,
                headers={
                    **self._origin_headers(origin),
                    "Access-Control-Allow-Methods": ", ".join(CORS_METHODS),
                    "Access-Control-Allow-Headers": ", ".join(CORS_REQUEST_HEADERS),
                    "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
                },
            )
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)


def _refusal(origin_allowed: bool, method: str, asked: list[str]) -> str:
    if not origin_allowed:
        return "This origin is not allowed to call the API (LYCEUM_CORS_ORIGINS)"
    if method not in CORS_METHODS:
        return f"Method {method[:20]!r} is not allowed cross-origin"
    unknown = [h for h in asked if h not in CORS_REQUEST_HEADERS and h not in _SAFELISTED]
    if unknown:
        return f"Request headers not allowed cross-origin: {', '.join(sorted(unknown)[:5])[:200]}"
    return ""


# Fetch's CORS-safelisted request headers: browsers never ask about these, but some list them anyway.
_SAFELISTED = frozenset({"accept", "accept-language", "content-language", "content-type", "range"})


def install(app: Litestar, settings: Settings) -> ASGIApp:
    """The Litestar app's ASGI handler wrapped in the edge layers (CORS only when origins are configured)."""
    handler: ASGIApp = Methods(app.asgi_handler, allowed_methods(app))
    if settings.cors_origins:
        handler = CORSMiddleware(handler, settings)
    return handler
