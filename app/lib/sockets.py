"""What every Lyceum WebSocket (and server-sent event stream) shares: the origin check, authentication
inside the socket protocol, close codes, the slow-consumer metric and keep-alive timing.

Sockets sit outside the HTTP auth middleware (browsers cannot set headers on a WebSocket upgrade), so
they authenticate here: the access token comes from the upgrade's ``Authorization: Bearer`` header or,
failing that, a first frame ``{"type": "auth", "token": "..."}``.

Close codes: 4401 not authenticated, 4403 forbidden (role, ownership or origin), 4404 unknown
resource, 4408 client too slow (its buffer overflowed), 1011 server error, 1013 try again later,
1000 normal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from prometheus_client import Counter

from app.config import Settings
from app.lib.errors import LyceumError
from app.lib.observability import REGISTRY
from app.lib.security.principal import Principal

if TYPE_CHECKING:
    from app.runtime import Runtime

AUTH_TIMEOUT_SECONDS = 10.0
SSE_PING_SECONDS = 15.0
# Proxies must pass server-sent events through as they come.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_TRY_AGAIN = 1013
CLOSE_TIMEOUT_SECONDS = 5.0

SLOW_CONSUMERS = Counter(
    "lyceum_ws_slow_consumers_total",
    "WebSockets (and SSE streams) closed because the client read too slowly",
    ["channel"],
    registry=REGISTRY,
)


def origin_allowed(socket: WebSocket[Any, Any, Any], settings: Settings) -> bool:
    """Browsers send Origin; it must be this host or a configured origin. Non-browser clients send none."""
    origin = socket.headers.get("origin")
    if not origin:
        return True
    if origin in settings.ws_allowed_origins:
        return True
    return urlsplit(origin).netloc == socket.headers.get("host", "")


async def authenticate(socket: WebSocket[Any, Any, Any], runtime: Runtime) -> Principal | None:
    """Access token from the upgrade's Authorization header, else the first frame {"type": "auth", "token"}."""
    header = socket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        try:
            frame = await asyncio.wait_for(socket.receive_json(), AUTH_TIMEOUT_SECONDS)
        except (TimeoutError, ValueError, WebSocketDisconnect):
            return None
        if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
            return None
        token = frame["token"]
    try:
        principal = await runtime.denylist.check(runtime.tokens.principal(token))
    except LyceumError:
        return None
    return principal


async def accept_authenticated(socket: WebSocket[Any, Any, Any], runtime: Runtime) -> Principal | None:
    """Accept, check the origin (4403) and authenticate (4401); None when the socket was closed."""
    await socket.accept()
    if not origin_allowed(socket, runtime.settings):
        await socket.close(code=CLOSE_FORBIDDEN, reason="origin not allowed")
        return None
    principal = await authenticate(socket, runtime)
    if principal is None:
        await socket.close(code=CLOSE_NOT_AUTHENTICATED, reason="not authenticated")
        return None
    return principal


async def close_quietly(socket: WebSocket[Any, Any, Any], code: int = 1000, reason: str = "") -> None:
    """Close without raising, and without hanging on a peer that stopped reading."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason), CLOSE_TIMEOUT_SECONDS)
