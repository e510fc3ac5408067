"""What every Lyceum WebSocket (and server-sent event stream) shares: the origin check, authentication
inside the socket protocol, close codes, the slow-consumer metric and keep-alive timing.

Sockets sit outside the HTTP auth middleware (browsers cannot set headers on a WebSocket upgrade), so
they authenticate here: the access token comes from the upgrade's ``Authorization: Bearer`` header or,
failing that, a first frame ``{"type": "auth", "token": "..."}``.

Close codes: 4400 malformed frame (not JSON, too deep, NUL) or bad parameters, 4401 not
authenticated, 4403 forbidden (role, ownership or origin), 4404 unknown resource, 4408 client too slow
(its buffer overflowed), 1009 message too big, 1011 server error, 1013 try again later, 1000 normal.

Frame sizes: the server (uvicorn ``--ws-max-size``, set to ``server_max_frame_bytes``) refuses any frame
above the largest a socket accepts before buffering it, and each connection then holds its own limit:
``AUTH_FRAME_MAX_BYTES`` until the client has authenticated, the socket's limit afterwards (the tutor:
the longest message plus its envelope). Above it the socket closes 1009 "message too big".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEventMessage
from prometheus_client import Counter

from app.config import Settings
from app.lib.errors import LyceumError
from app.lib.inputs import decode_frame
from app.lib.observability import REGISTRY
from app.lib.problems import is_dependency_unavailable
from app.lib.security.principal import Principal

if TYPE_CHECKING:
    from app.lib.resources import EdgeResources

AUTH_TIMEOUT_SECONDS = 10.0
SSE_PING_SECONDS = 15.0
# Proxies must pass server-sent events through as they come.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_PING = ServerSentEventMessage(comment="ping", data=None)  # ": ping" and a blank line: a keep-alive

CLOSE_NORMAL = 1000
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_BAD_REQUEST = 4400
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_TRY_AGAIN = 1013
CLOSE_TIMEOUT_SECONDS = 5.0

# Before authentication a client may send one frame: {"type": "auth", "token": "<JWT>"} (well under
# 1 KiB). Anything bigger is refused before it costs more than this.
AUTH_FRAME_MAX_BYTES = 4096
# Room for a frame's JSON around its text: type, id (<= 100 characters), escapes of the id.
FRAME_ENVELOPE_BYTES = 4096
# One character of a message can take 12 bytes in JSON: a non-BMP character escaped as a surrogate pair.
_JSON_BYTES_PER_CHAR = 12
_SERVER_FRAME_STEP = 64 * 1024
WS_PROTOCOL = "app.server.ws_protocol:LyceumWebSocketProtocol"

SLOW_CONSUMERS = Counter(
    "lyceum_ws_slow_consumers_total",
    "WebSockets (and SSE streams) closed because the client read too slowly",
    ["channel"],
    registry=REGISTRY,
)


class FrameTooBig(Exception):
    """A client frame above the connection's limit: close 1009."""


class SocketRefused(Exception):
    """The client cannot go on: close with ``code`` and ``reason`` (safe to show)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def tutor_frame_max_bytes(settings: Settings) -> int:
    """Largest frame an authenticated tutor socket accepts: the longest message, escaped, plus envelope."""
    return settings.tutor_max_message_chars * _JSON_BYTES_PER_CHAR + FRAME_ENVELOPE_BYTES


def server_max_frame_bytes(settings: Settings) -> int:
    """The server-wide frame limit (uvicorn ``--ws-max-size``): the largest any Lyceum socket accepts,
    rounded up to whole 64 KiB so it is a round figure to configure (65536 with the default settings,
    as in the Dockerfile). Between a socket's own limit and this one, the socket closes 1009 itself."""
    largest = max(tutor_frame_max_bytes(settings), AUTH_FRAME_MAX_BYTES)
    return -(-largest // _SERVER_FRAME_STEP) * _SERVER_FRAME_STEP


def uvicorn_ws_args(settings: Settings) -> list[str]:
    """Uvicorn's WebSocket options, the same for `lyceum up` and the benchmarks."""
    return [
        # uvicorn's websockets-sansio protocol with staggered keep-alive pings (app/server/ws_protocol.py).
        "--ws",
        WS_PROTOCOL,
        # Protocol-level keep-alive pings on tutor sockets; dead peers are dropped.
        "--ws-ping-interval",
        str(settings.ws_ping_interval_seconds),
        "--ws-ping-timeout",
        str(settings.ws_ping_interval_seconds),
        "--ws-per-message-deflate",
        str(settings.ws_compression).lower(),
        # Frames above the largest any socket accepts are refused before uvicorn buffers them
        # (default 16 MiB); each socket then holds its own, smaller limit (above).
        "--ws-max-size",
        str(server_max_frame_bytes(settings)),
    ]


async def receive_frame(socket: WebSocket[Any, Any, Any], max_bytes: int) -> str | bytes:
    """The next text (or binary) frame; WebSocketDisconnect when the client left, FrameTooBig above ``max_bytes``."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnected", code=message.get("code", CLOSE_NORMAL))
    text, binary = message.get("text"), message.get("bytes")
    data: str | bytes = text if isinstance(text, str) else binary if isinstance(binary, bytes) else b""
    if _frame_size_over(data, max_bytes):
        raise FrameTooBig(f"frames are limited to {max_bytes} bytes")
    return data


def _frame_size_over(data: str | bytes, max_bytes: int) -> bool:
    if isinstance(data, bytes) or len(data) > max_bytes:
        return len(data) > max_bytes
    # A character is 1-4 bytes of UTF-8: count exactly only when the character count cannot decide.
    return len(data) * 4 > max_bytes and len(data.encode("utf-8", "surrogatepass")) > max_bytes


def origin_allowed(socket: WebSocket[Any, Any, Any], settings: Settings) -> bool:
    """Browsers send Origin; it must be this host or a configured origin. Non-browser clients send none."""
    origin = socket.headers.get("origin")
    if not origin:
        return True
    if origin in settings.ws_allowed_origins:
        return True
    return urlsplit(origin).netloc == socket.headers.get("host", "")


async def authenticate(socket: WebSocket[Any, Any, Any], edge: EdgeResources) -> Principal:
    """Access token from the upgrade's Authorization header, else the first frame {"type": "auth", "token"}.

    Raises SocketRefused: 1009 for a first frame above AUTH_FRAME_MAX_BYTES, 4400 for one that is not
    JSON, 4401 for anything else that does not authenticate, 1013 while Redis or PostgreSQL cannot check the
    token (try again shortly). Reasons never carry decoder internals.
    """
    header = socket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token:
        try:
            raw = await asyncio.wait_for(receive_frame(socket, AUTH_FRAME_MAX_BYTES), AUTH_TIMEOUT_SECONDS)
            frame = decode_frame(raw)
        except FrameTooBig as exc:
            raise SocketRefused(CLOSE_MESSAGE_TOO_BIG, "message too big") from exc
        except LyceumError as exc:
            raise SocketRefused(CLOSE_BAD_REQUEST, 'malformed frame: expected {"type": "auth", "token": ...}') from exc
        except (TimeoutError, WebSocketDisconnect) as exc:
            raise SocketRefused(CLOSE_NOT_AUTHENTICATED, "not authenticated") from exc
        if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
            raise SocketRefused(CLOSE_NOT_AUTHENTICATED, "not authenticated")
        token = frame["token"]
    try:
        principal = await edge.denylist.check(edge.tokens.principal(token))
    except LyceumError as exc:
        raise SocketRefused(CLOSE_NOT_AUTHENTICATED, "not authenticated") from exc
    except Exception as exc:
        # The revocation check reads Redis and PostgreSQL: while either is away (or out of connections) the
        # client should come back shortly, as HTTP's 503 says; a load test found these closing with 4500.
        if is_dependency_unavailable(exc):
            raise SocketRefused(CLOSE_TRY_AGAIN, "temporarily unavailable, try again shortly") from exc
        raise
    return principal


async def accept_authenticated(socket: WebSocket[Any, Any, Any], edge: EdgeResources) -> Principal | None:
    """Accept, check the origin (4403) and authenticate (4401, 4400, 1009); None when the socket was closed."""
    await socket.accept()
    if not origin_allowed(socket, edge.settings):
        await socket.close(code=CLOSE_FORBIDDEN, reason="origin not allowed")
        return None
    try:
        return await authenticate(socket, edge)
    except SocketRefused as refused:
        await close_quietly(socket, refused.code, refused.reason)
        return None


async def close_quietly(socket: WebSocket[Any, Any, Any], code: int = 1000, reason: str = "") -> None:
    """Close without raising, and without hanging on a peer that stopped reading."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason), CLOSE_TIMEOUT_SECONDS)
