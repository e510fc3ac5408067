"""The live review feed for instructors and admins: the org's events from the event bus
(app/lib/events.py), replayed then live, over a WebSocket or server-sent events.

WebSocket ``/v1/review/feed[?since=<event id>][&limit=<n>]``: authenticate as for the tutor socket
(Authorization header, or a first frame ``{"type": "auth", "token": ...}``); then the replay (events
after ``since``, else the most recent ``limit``), a ``{"type": "ready", "replayed": n}`` frame, and live
events as they happen. Every event frame is a FeedEvent: ``{"id", "type", "org_id", "at", "data"}``.
An idle feed gets ``{"type": "ping"}`` frames. Client frames are ignored (above 4 KiB they close 1009).

Close codes (app/lib/sockets.py): 4401 not authenticated, 4403 not staff or origin refused, 4400 bad
``since``/``limit`` or a first frame that is not JSON, 4408 "slow consumer" (the client read so slowly
its buffer filled), 1009 a frame too big, 1013 feed unavailable (Redis down).

SSE ``GET /v1/review/feed`` with ``Accept: text/event-stream``: the same events as ``id:``/``event:``/
``data:`` messages (an ``event: ready`` after the replay, ``: ping`` comments when idle); resume from
``Last-Event-ID`` (what EventSource sends on reconnect) or ``?since=``. A slow reader's stream ends
after an ``event: closed`` message. Without that Accept header the same GET answers the replay as
JSON, for clients that poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import ServerSentEventMessage
from litestar.types import WebSocketSendEvent

from app.domain.components import Components
from app.lib.errors import ValidationFailed
from app.lib.event_payloads import TypedFeedEvent
from app.lib.events import Delivery, FeedEvent, SlowConsumer, Subscription, valid_event_id
from app.lib.sockets import (
    AUTH_FRAME_MAX_BYTES,
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN,
    SLOW_CONSUMERS,
    SSE_PING,
    FrameTooBig,
    accept_authenticated,
    close_quietly,
    receive_frame,
)

log = structlog.get_logger("lyceum.review.feed")
# The feed reads nothing from its clients; whatever they send is held to the pre-auth frame limit.
CLIENT_FRAME_MAX_BYTES = AUTH_FRAME_MAX_BYTES
_PING = '{"type":"ping"}'
_encoder = msgspec.json.Encoder()


class FeedPage(msgspec.Struct):
    """The replay as JSON (GET without ``Accept: text/event-stream``): oldest first."""

    items: list[FeedEvent]
    last_id: str | None  # pass as ``since`` (or Last-Event-ID) to continue from here


class FeedReplay(msgspec.Struct):
    """FeedPage as OpenAPI documents it: each event typed by its ``type`` (the same JSON)."""

    items: list[TypedFeedEvent]
    last_id: str | None


class ReadyFrame(msgspec.Struct, tag_field="type", tag="ready"):
    replayed: int


class ClosedFrame(msgspec.Struct, tag_field="type", tag="closed"):
    reason: str


def feed_cursor(since: str | None, limit: int | None, kept: int) -> tuple[str | None, int]:
    """Validated ``since`` and replay ``limit`` (default and maximum: ``kept``, the events an org keeps)."""
    if since is not None and not valid_event_id(since):
        raise ValidationFailed(
            "'since' must be an event id such as 1732345678901-0",
            errors=[{"pointer": "#/since", "detail": "not an event id"}],
        )
    if limit is None:
        return since, kept
    if not 0 <= limit <= kept:
        raise ValidationFailed(
            f"'limit' must be between 0 and {kept}", errors=[{"pointer": "#/limit", "detail": "out of range"}]
        )
    return since, limit


async def serve_feed_socket(socket: WebSocket[Any, Any, Any], components: Components) -> None:
    principal = await accept_authenticated(socket, components)  # origin (4403) and token (4401) checks
    if principal is None:
        return
    if not principal.is_staff:
        await close_quietly(socket, CLOSE_FORBIDDEN, "instructors and admins only")
        return
    try:
        raw_limit = socket.query_params.get("limit")
        kept = components.settings.feed_replay_size
        since, limit = feed_cursor(socket.query_params.get("since"), int(raw_limit) if raw_limit else None, kept)
    except (ValidationFailed, ValueError):
        await close_quietly(socket, CLOSE_BAD_REQUEST, "invalid since or limit")
        return
    try:
        async with components.events.subscribe(principal.org_id, since=since, replay=limit) as sub:
            await FeedSocket(socket, sub, components.settings.feed_ping_seconds).serve()
    except Exception as exc:  # Redis down (ServiceUnavailable) or a bug: either way, tell the client to retry
        log.warning("review_feed_socket_failed", error=repr(exc))
        await close_quietly(socket, CLOSE_TRY_AGAIN, "feed unavailable")


_last_event: tuple[Delivery | None, WebSocketSendEvent] = (None, {"type": "websocket.send", "bytes": None, "text": ""})


def _event_message(delivery: Delivery) -> WebSocketSendEvent:
    """The ``websocket.send`` message of a delivery, built once per event and process: the hub hands the
    same delivery to every socket one after another, and nothing between here and uvicorn changes a
    websocket.send message (the wrappers only look at its type), so one dict serves them all."""
    global _last_event
    if _last_event[0] is not delivery:
        _last_event = (delivery, {"type": "websocket.send", "bytes": None, "text": delivery.text})
    return _last_event[1]


class FeedSocket:
    """One connected feed socket: a pump (events), a keep-alive (pings when idle), a reader (notices the
    client leaving) and the slow-consumer signal; whichever of pump, reader and signal ends first ends
    the connection.

    Per event and socket the work is one queue hand-over and one send: the pump waits for the next
    event without a timeout, because ``asyncio.wait_for`` (Python 3.11) creates a task and a timer on
    every call, which at 500 sockets was 500 of each per event. Idle pings come from a timer of their
    own that only fires when the socket has been quiet."""

    def __init__(self, socket: WebSocket[Any, Any, Any], sub: Subscription, ping_seconds: float) -> None:
        self.socket = socket
        self.sub = sub
        self.ping_seconds = ping_seconds or None
        self._loop = asyncio.get_running_loop()
        self._last_sent = self._loop.time()

    async def serve(self) -> None:
        pump = asyncio.create_task(self._pump())
        reader = asyncio.create_task(self._read())
        dropped = asyncio.create_task(self.sub.dropped.wait())
        ending = (pump, reader, dropped)
        tasks = (*ending, asyncio.create_task(self._keep_alive())) if self.ping_seconds else ending
        try:
            await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # The pump may be stuck sending to a client that stopped reading: cancel it, do not wait on it.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if reader.done() and not reader.cancelled() and isinstance(reader.exception(), FrameTooBig):
            await close_quietly(self.socket, CLOSE_MESSAGE_TOO_BIG, "message too big")
            return
        if self.sub.dropped.is_set():
            SLOW_CONSUMERS.labels("review_feed").inc()
            log.warning("review_feed_slow_consumer_closed")
            await close_quietly(self.socket, CLOSE_TOO_SLOW, "slow consumer")
            return
        failure = pump.exception() if pump.done() and not pump.cancelled() else None
        if failure is not None:
            raise failure  # the caller closes with 1013 and logs it
        await close_quietly(self.socket, CLOSE_NORMAL)

    async def _send(self, text: str) -> None:
        await self._send_message({"type": "websocket.send", "bytes": None, "text": text})

    async def _send_message(self, message: WebSocketSendEvent) -> None:
        # Straight to the connection's ASGI send (what send_text ends in, less two calls and a dict).
        await self.socket.send(message)
        self._last_sent = self._loop.time()

    async def _pump(self) -> None:
        sub = self.sub
        ready = False
        # SlowConsumer: serve() closes with 4408; a send to a client that left: the reader ends it.
        with contextlib.suppress(SlowConsumer, WebSocketDisconnect, OSError):
            while True:
                if not ready and sub.replay_done:
                    await self._send(_encoder.encode(ReadyFrame(replayed=sub.replayed)).decode())
                    ready = True
                delivery = await sub.next()
                assert delivery is not None  # only a timeout gives None
                await self._send_message(_event_message(delivery))

    async def _keep_alive(self) -> None:
        """A ping frame once the socket has been quiet for its period: ``ping_seconds`` times a factor
        drawn per socket between 0.75 and 1, so feeds opened together (a reconnect wave after a deploy)
        drift apart instead of pinging all at once, one period after another."""
        assert self.ping_seconds is not None
        period = self.ping_seconds * random.uniform(0.75, 1.0)  # noqa: S311 - spreading load, not a secret
        with contextlib.suppress(WebSocketDisconnect, OSError):
            while True:
                await asyncio.sleep(max(0.0, self._last_sent + period - self._loop.time()))
                if self._loop.time() - self._last_sent >= period:
                    await self._send(_PING)

    async def _read(self) -> None:
        # Nothing to act on; reading is how we notice the client leaving (or sending too much).
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await receive_frame(self.socket, CLIENT_FRAME_MAX_BYTES)


async def sse_stream(
    sub: Subscription, stack: contextlib.AsyncExitStack, ping_seconds: float
) -> AsyncIterator[ServerSentEventMessage]:
    """Server-sent events from an open subscription; ``stack`` (which holds it open) is closed here.

    Wire: ``id: <event id>`` / ``event: <type>`` / ``data: <FeedEvent JSON>`` per event (the JSON has no
    line breaks: msgspec never emits them, so one data line), ``event: ready`` after the replay, and
    ``: ping`` comments (no data line) when idle.
    """
    try:
        ready = False
        while True:
            if not ready and sub.replay_done:
                yield ServerSentEventMessage(event="ready", data=_encoder.encode(ReadyFrame(replayed=sub.replayed)))
                ready = True
            try:
                delivery = await sub.next(ping_seconds or None)
            except SlowConsumer:
                SLOW_CONSUMERS.labels("review_feed_sse").inc()
                log.warning("review_feed_slow_consumer_closed", transport="sse")
                yield ServerSentEventMessage(event="closed", data=_encoder.encode(ClosedFrame(reason="slow consumer")))
                return
            if delivery is None:
                yield SSE_PING
                continue
            yield ServerSentEventMessage(id=delivery.event.id, event=delivery.event.type, data=delivery.text)
    finally:
        await stack.aclose()
