"""``Idempotency-Key`` for creating POSTs (draft-ietf-httpapi-idempotency-key-header).

The first response for (caller, route, key) is stored in Redis; a replay with the same body gets it
back byte for byte, a different body with the same key is 422, a replay while the first is still
running is 409. 5xx answers are not stored, so the client may retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from typing import Any

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from app.lib.errors import Conflict, IdempotencyKeyReused, LyceumError, ValidationFailed
from app.lib.problems import is_dependency_unavailable
from app.lib.resources import edge_resources

IDEMPOTENT = "idempotent"  # route opt
HEADER = b"idempotency-key"
log = structlog.get_logger("lyceum.idempotency")
_PENDING_TTL = 60


class StoredResponse(msgspec.Struct):
    fingerprint: str
    status: int = 0
    headers: list[tuple[str, str]] = []
    body: bytes = b""


async def _read_body(receive: Receive) -> tuple[bytes, list[ReceiveMessage]]:
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        else:
            break
    return b"".join(chunks), messages


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        key = dict(scope["headers"]).get(HEADER)
        if (
            scope["type"] != ScopeType.HTTP
            or scope["method"] != "POST"
            or key is None
            or not (handler and handler.opt.get(IDEMPOTENT))
        ):
            await self.app(scope, receive, send)
            return
        await self._handle(scope, receive, send, bytes(key).decode("latin-1"))

    async def _handle(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        if not 1 <= len(key) <= 255:
            raise ValidationFailed(
                "Idempotency-Key must be 1-255 characters",
                errors=[{"header": "Idempotency-Key", "detail": "must be 1-255 characters"}],
            )
        edge = edge_resources(scope["app"])
        redis = edge.limiter_redis  # on the request path: the fail-fast client (app/lib/redis.py)
        body, messages = await _read_body(receive)
        principal = scope.get("state", {}).get("principal")
        caller = f"{principal.org_id}:{principal.user_id}" if principal else "anonymous"
        digest = hashlib.sha256(f"{caller}|{scope['path']}|{key}".encode()).hexdigest()
        redis_key = f"{edge.settings.redis_key_prefix}idem:{digest}"
        fingerprint = hashlib.sha256(body).hexdigest()

        pending = msgspec.msgpack.encode(StoredResponse(fingerprint=fingerprint))
        if not await redis.set(redis_key, pending, nx=True, ex=_PENDING_TTL):
            stored = await redis.get(redis_key)
            if stored is None:  # expired between our two calls; treat as in flight
                raise Conflict("A request with this Idempotency-Key is still being processed")
            await self._replay(
                msgspec.msgpack.decode(
                    bytes(stored, "latin-1") if isinstance(stored, str) else stored, type=StoredResponse
                ),
                fingerprint,
                send,
            )
            return

        captured: dict[str, Any] = {"status": 0, "headers": [], "body": []}

        async def replay_receive() -> ReceiveMessage:
            return messages.pop(0) if messages else await receive()

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        # From here on the response may have started: a Redis failure can no longer become a 503, so the
        # bookkeeping is best effort (a load test saw the connection dropped mid-response instead). Unrecorded,
        # the key's in-flight marker answers 409 until it expires (_PENDING_TTL); after that a retry runs again.
        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await _best_effort(redis.delete(redis_key), redis_key)
            raise
        if captured["status"] >= 500 or captured["status"] == 0:
            await _best_effort(redis.delete(redis_key), redis_key)
            return
        keep = [(k, v) for k, v in captured["headers"] if k.lower() in ("content-type", "location")]
        record = StoredResponse(fingerprint, captured["status"], keep, b"".join(captured["body"]))
        stored_record = redis.set(redis_key, msgspec.msgpack.encode(record), ex=edge.settings.idempotency_ttl_seconds)
        await _best_effort(stored_record, redis_key)

    @staticmethod
    async def _replay(stored: StoredResponse, fingerprint: str, send: Send) -> None:
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body")
        if stored.status == 0:
            raise Conflict("A request with this Idempotency-Key is still being processed")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": stored.body, "more_body": False})


__all__ = ["IDEMPOTENT", "IdempotencyMiddleware", "LyceumError"]


async def _best_effort(call: Awaitable[Any], redis_key: str) -> None:
    """Await a Redis write made after the response started; an unavailable Redis is logged, not raised."""
    try:
        await call
    except Exception as exc:
        if not is_dependency_unavailable(exc):
            raise
        log.warning("idempotency_record_unavailable", key=redis_key, error=type(exc).__name__)
