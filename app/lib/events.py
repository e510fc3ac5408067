"""The platform's one event bus: per-org events, kept briefly in Redis and fanned out live.

``publish`` appends the event to the org's capped Redis stream (the last N events, for replay and
resume) and PUBLISHes it on the org's channel, in one Lua call so the two never disagree. Each API
process holds ONE pub/sub connection (pattern-subscribed to every org's channel) and fans each
message out to its local subscribers through bounded per-subscriber queues: a subscriber whose queue
is full is dropped (``SlowConsumer``) instead of slowing the others or growing memory.

Publishing never fails the caller when Redis is down: the event is lost, logged and counted, and
``publish`` returns ``""``. Subscribing needs Redis (``ServiceUnavailable`` otherwise). If the
pub/sub connection drops, the hub reconnects and catches its subscribers up from the stream, so a
blip loses nothing that is still within the stream's last N events.

Keys (under ``settings.redis_key_prefix``): ``events:stream:<org>`` (stream, entry field ``e`` = the
event JSON without its id), channel ``events:live:<org>`` (message ``<id> <event JSON without id>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import structlog
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.lib.errors import ServiceUnavailable
from app.lib.event_payloads import (
    ASSESSMENT_GRADED,
    BUDGET_ALERT,
    EVENT_TYPES,
    PAYLOADS,
    REVIEW_CLAIMED,
    REVIEW_DECIDED,
    SUBMISSION_ESCALATED,
    SUBMISSION_GRADED,
    TUTOR_BLOCKED,
    TUTOR_SESSION_STARTED,
    AssessmentGraded,
    BudgetAlert,
    EventPayload,
    GuardrailOutcome,
    ReviewClaimed,
    ReviewDecided,
    SubmissionEscalated,
    SubmissionGraded,
    TutorBlocked,
    TutorSessionStarted,
)
from app.lib.observability import REGISTRY

__all__ = [
    "ASSESSMENT_GRADED",
    "BUDGET_ALERT",
    "EVENT_TYPES",
    "REVIEW_CLAIMED",
    "REVIEW_DECIDED",
    "SUBMISSION_ESCALATED",
    "SUBMISSION_GRADED",
    "TUTOR_BLOCKED",
    "TUTOR_SESSION_STARTED",
    "AssessmentGraded",
    "BudgetAlert",
    "Delivery",
    "EventBus",
    "EventPayload",
    "FeedEvent",
    "GuardrailOutcome",
    "ReviewClaimed",
    "ReviewDecided",
    "SlowConsumer",
    "SubmissionEscalated",
    "SubmissionGraded",
    "Subscription",
    "TutorBlocked",
    "TutorSessionStarted",
    "valid_event_id",
]

# An idle org's stream goes away after this; its replay is then empty, nothing else is lost.
STREAM_TTL_SECONDS = 30 * 24 * 3600
HUB_READY_TIMEOUT_SECONDS = 5.0
RECONNECT_BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)

log = structlog.get_logger("lyceum.events")
PUBLISHED = Counter(
    "lyceum_events_published_total",
    "Events published on the bus, by type and outcome (ok, unavailable: Redis down, event lost)",
    ["type", "outcome"],
    registry=REGISTRY,
)
SUBSCRIBERS = Gauge("lyceum_events_subscribers", "Live event subscribers in this process", registry=REGISTRY)
DROPPED = Counter(
    "lyceum_events_subscribers_dropped_total",
    "Subscribers dropped because their queue was full (slow consumers)",
    registry=REGISTRY,
)
HUB_RECONNECTS = Counter(
    "lyceum_events_hub_reconnects_total", "Pub/sub connection losses of this process's hub", registry=REGISTRY
)
DELIVERY_LAG = Histogram(
    "lyceum_events_delivery_lag_seconds",
    "From publish (the event's timestamp) to this process's hub handing it to its subscribers",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)

# XADD and PUBLISH in one call: an event is either in the stream and announced, or neither.
# KEYS[1] stream, KEYS[2] channel; ARGV[1] max length (approximate), ARGV[2] event JSON, ARGV[3] TTL s.
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
return id
"""
# ASCII digits only (``\d`` also matches other scripts' digits, which Redis refuses), no trailing newline.
_EVENT_ID = re.compile(r"[0-9]{1,20}(?:-[0-9]{1,20})?")
_MAX_ID_PART = 2**64 - 1  # Redis stream ids are two unsigned 64-bit numbers
_UNAVAILABLE = (RedisError, OSError, TimeoutError)


class FeedEvent(msgspec.Struct, frozen=True):
    id: str  # the Redis stream id, "<ms>-<seq>": orders events within an org; resume from it
    type: str  # one of EVENT_TYPES
    org_id: UUID
    at: datetime  # when it was published (UTC)
    data: dict[str, Any]  # the payload as sent; ``payload()`` gives it typed

    def payload(self) -> EventPayload:
        """``data`` as its event type's struct (app/lib/event_payloads.py); ValidationError if it does not fit."""
        return msgspec.convert(self.data, PAYLOADS[self.type])


class _Body(msgspec.Struct, frozen=True):
    """What is stored and published: the event without its id (Redis assigns the id)."""

    type: str
    org_id: UUID
    at: datetime
    data: dict[str, Any]


class _Published(msgspec.Struct, frozen=True):
    """``_Body`` as written: the payload is its typed struct (same JSON as the dict it decodes to)."""

    type: str
    org_id: UUID
    at: datetime
    data: EventPayload


_encoder = msgspec.json.Encoder()
_body_decoder = msgspec.json.Decoder(_Body)


class Delivery(msgspec.Struct, frozen=True):
    """An event and its JSON (id included), encoded once per process, not once per subscriber."""

    event: FeedEvent
    wire: bytes
    key: tuple[int, int]
    text: str  # ``wire`` decoded, for WebSocket text frames


class SlowConsumer(Exception):
    """The subscriber's queue overflowed: it was dropped and receives nothing more."""


def valid_event_id(value: str) -> bool:
    """A stream id a client may resume from: ``<ms>-<seq>`` (or ``<ms>``), each part within 64 bits.

    Anything Redis would refuse must fail here: a refusal from Redis reads as "unavailable" (503).
    """
    if not _EVENT_ID.fullmatch(value):
        return False
    return all(int(part) <= _MAX_ID_PART for part in value.split("-"))


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def _delivery(event_id: str, body_json: bytes) -> Delivery:
    body = _body_decoder.decode(body_json)
    event = FeedEvent(id=event_id, type=body.type, org_id=body.org_id, at=body.at, data=body.data)
    # The body is a JSON object; splice the id in front instead of re-encoding the whole event.
    wire = b'{"id":"' + event_id.encode() + b'",' + body_json[1:]
    return Delivery(event=event, wire=wire, key=_key(event_id), text=wire.decode())


def _type_of(event: EventPayload) -> str:
    """The event's type; ValueError unless it is one of the registered payloads (EVENT_TYPES)."""
    type = getattr(event, "TYPE", None)
    if type not in EVENT_TYPES or not isinstance(event, PAYLOADS[type]):
        raise ValueError(f"unknown event {event!r}; add its payload to app.lib.event_payloads.PAYLOADS")
    return str(type)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Subscription:
    """One subscriber's view: the replayed events, then live ones, each once and in order.

    Iterate it (``async for event in sub``) or call ``next(timeout)`` for the pre-encoded delivery.
    Raises ``SlowConsumer`` once the hub has dropped it; ``dropped`` is set at that moment, so a
    transport blocked on a slow client can be closed without waiting for the next read.
    """

    def __init__(self, org_id: UUID, queue_size: int) -> None:
        self.org_id = org_id
        self.dropped = asyncio.Event()
        self._queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=max(1, queue_size))
        self._backlog: deque[Delivery] = deque()
        self._high: tuple[int, int] | None = None  # newest id queued; None while the replay is loading
        self.replayed = 0

    def offer(self, delivery: Delivery) -> bool:
        """Queue a live event without waiting; False when the queue was full (the hub then drops us)."""
        if self.dropped.is_set():
            return True
        if self._high is not None:
            if delivery.key <= self._high:
                return True  # already replayed or delivered (catch-up after a reconnect)
            self._high = delivery.key
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            return False
        return True

    def drop(self) -> None:
        """Forget the queued events (free the memory now) and wake the consumer with the bad news."""
        self.dropped.set()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def prime(self, replay: list[Delivery], baseline: tuple[int, int]) -> None:
        """Put the replay in front, and drop live events the replay already holds."""
        self._backlog.extend(replay)
        self.replayed = len(replay)
        high = replay[-1].key if replay else baseline
        pending = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and item.key > high:
                pending.append(item)
        for item in pending:
            self._queue.put_nowait(item)
        self._high = pending[-1].key if pending else high

    @property
    def replay_done(self) -> bool:
        """Every replayed event has been taken; what follows is live."""
        return not self._backlog

    @property
    def high(self) -> tuple[int, int]:
        return self._high or (0, 0)

    async def next(self, idle: float | None = None) -> Delivery | None:
        """The next event; None if ``idle`` seconds pass without one. Raises SlowConsumer when dropped."""
        if self.dropped.is_set():
            raise SlowConsumer
        if self._backlog:
            return self._backlog.popleft()
        try:
            item = await (self._queue.get() if idle is None else asyncio.wait_for(self._queue.get(), idle))
        except TimeoutError:
            return None
        if item is None:
            raise SlowConsumer
        return item

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> FeedEvent:
        item = await self.next()
        assert item is not None
        return item.event


class _Hub:
    """This process's one pub/sub connection and its local subscribers, by org."""

    def __init__(self, redis: Redis, bus: EventBus) -> None:
        self._redis = redis
        self._bus = bus
        self._pattern = bus.channel_pattern
        self._subscribers: dict[UUID, set[Subscription]] = {}
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    async def add(self, subscription: Subscription) -> None:
        self._subscribers.setdefault(subscription.org_id, set()).add(subscription)
        SUBSCRIBERS.inc()
        if self._task is None or self._task.done():
            # A fresh context: the hub outlives the request that started it (and its log bindings).
            self._task = asyncio.create_task(self._run(), name="lyceum-events-hub", context=contextvars.Context())
        try:
            await asyncio.wait_for(self._ready.wait(), HUB_READY_TIMEOUT_SECONDS)
        except TimeoutError:
            self.remove(subscription)
            raise ServiceUnavailable("The live feed is unavailable (Redis); try again shortly") from None

    def remove(self, subscription: Subscription) -> None:
        subs = self._subscribers.get(subscription.org_id)
        if subs is not None and subscription in subs:
            subs.discard(subscription)
            SUBSCRIBERS.dec()
            if not subs:
                del self._subscribers[subscription.org_id]

    def dispatch(self, delivery: Delivery) -> None:
        subs = self._subscribers.get(delivery.event.org_id)
        if not subs:
            return
        DELIVERY_LAG.observe(max(0.0, time.time() - delivery.event.at.timestamp()))
        for sub in tuple(subs):
            if not sub.offer(delivery):
                # Never wait for a slow reader: drop it, the others get the event now.
                DROPPED.inc()
                self.remove(sub)
                sub.drop()

    def _on_message(self, data: bytes) -> None:
        event_id, _, body = data.partition(b" ")
        try:
            self.dispatch(_delivery(event_id.decode(), body))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
            log.warning("events_bad_message", size=len(data))

    async def _run(self) -> None:
        """Hold the pattern subscription; on a connection loss, reconnect and catch subscribers up."""
        attempt = 0
        confirmed_before = False  # redis-py may also reconnect and resubscribe by itself
        while not self._closed:
            pubsub = self._pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._pattern)
                while not self._closed:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    kind = message["type"]
                    if kind == "pmessage":
                        self._on_message(message["data"])
                    elif kind == "psubscribe":
                        if confirmed_before:
                            await self._catch_up()
                        confirmed_before, attempt = True, 0
                        self._ready.set()
            except asyncio.CancelledError:
                raise
            except _UNAVAILABLE as exc:
                self._ready.clear()
                HUB_RECONNECTS.inc()
                log.warning("events_hub_disconnected", error=str(exc))
                await asyncio.sleep(RECONNECT_BACKOFF_SECONDS[min(attempt, len(RECONNECT_BACKOFF_SECONDS) - 1)])
                attempt += 1
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _catch_up(self) -> None:
        """Events published while we were disconnected are still in the streams: deliver them (once)."""
        for org_id, subs in list(self._subscribers.items()):
            if not subs:
                continue
            since = min(sub.high for sub in subs)
            for delivery in await self._bus.read_after(org_id, f"{since[0]}-{since[1]}"):
                self.dispatch(delivery)

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                self.remove(sub)
                sub.drop()


class EventBus:
    """Publish per-org events; replay recent ones; subscribe to live ones (see the module docstring).

    ``redis`` (general client) reads streams and holds the pub/sub connection; ``publisher`` (default
    ``redis``) runs the publish script: give it a fail-fast client without retries, so a hung Redis
    delays a caller by at most its short timeout and a retry can never publish an event twice.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_len: int = 500,
        queue_size: int = 256,
        publisher: Redis | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.max_len = max(1, max_len)
        self.queue_size = max(1, queue_size)
        self._publish_script = (publisher or redis).register_script(_PUBLISH_LUA)
        self._hub: _Hub | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def stream_key(self, org_id: UUID) -> str:
        return f"{self._prefix}events:stream:{org_id}"

    def channel(self, org_id: UUID) -> str:
        return f"{self._prefix}events:live:{org_id}"

    @property
    def channel_pattern(self) -> str:
        # The prefix is ours, but escape glob characters so a prefix can never widen the pattern.
        return re.sub(r"([\[\]*?\\])", r"\\\1", self._prefix) + "events:live:*"

    async def publish(self, org_id: UUID, event: EventPayload) -> str:
        """Record and announce an event; returns its id, or "" if Redis is unavailable (event lost).

        Raises ValueError for a payload whose type is not in EVENT_TYPES (a programming error, not an outage).
        """
        type = _type_of(event)
        body = _encoder.encode(_Published(type=type, org_id=org_id, at=datetime.now(UTC), data=event))
        try:
            event_id = await self._publish_script(
                keys=[self.stream_key(org_id), self.channel(org_id)],
                args=[self.max_len, body, STREAM_TTL_SECONDS],
            )
        except _UNAVAILABLE as exc:
            # The feed is best-effort: the caller's own work (a grade, a tutor reply) must not fail.
            PUBLISHED.labels(type, "unavailable").inc()
            log.warning("event_publish_failed", event_type=type, org_id=str(org_id), error=str(exc))
            return ""
        PUBLISHED.labels(type, "ok").inc()
        return _text(event_id)

    def publish_soon(self, org_id: UUID, event: EventPayload) -> None:
        """Publish in the background: for hot paths (a streaming reply) that must not wait for Redis."""
        _type_of(event)  # fail in the caller, where the bug is, not in a detached task
        self.soon(self.publish(org_id, event))

    def soon(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` (which decides whether to publish) in the background; finished before ``aclose``."""
        task = asyncio.create_task(work)
        self._tasks.add(task)  # a strong reference until done, or the task may be collected mid-flight
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("event_background_failed", error=repr(task.exception()))

    async def replay(self, org_id: UUID, since: str | None, limit: int) -> list[FeedEvent]:
        """Up to ``limit`` most recent events, oldest first; with ``since``, only events after that id.

        Raises ServiceUnavailable when Redis cannot be read, ValueError for a malformed ``since``.
        """
        deliveries, _ = await self._replay(org_id, since, limit)
        return [d.event for d in deliveries]

    async def _replay(self, org_id: UUID, since: str | None, limit: int) -> tuple[list[Delivery], tuple[int, int]]:
        """The replay and the id it ends at (the stream's newest id, or ``since``): live events follow it."""
        if since is not None and not valid_event_id(since):
            raise ValueError(f"not an event id: {since!r}")
        limit = max(0, limit)
        try:
            if since is None:
                # Newest first; at least one entry so we know where live events start.
                rows = list(reversed(await self._redis.xrevrange(self.stream_key(org_id), count=max(1, limit)) or []))
                deliveries = [self._from_row(row) for row in rows]
                baseline = deliveries[-1].key if deliveries else (0, 0)
                return (deliveries[-limit:] if limit else []), baseline
            deliveries = await self.read_after(org_id, since)
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable("Recent events cannot be read right now (Redis); try again shortly") from exc
        return (deliveries[-limit:] if limit else []), max(_key(since), deliveries[-1].key if deliveries else (0, 0))

    async def read_after(self, org_id: UUID, since: str) -> list[Delivery]:
        """Every retained event after ``since`` (the stream is capped, so this is bounded)."""
        if _key(since) == (_MAX_ID_PART, _MAX_ID_PART):
            return []  # nothing can follow the largest id, and Redis refuses it as an exclusive start
        rows = await self._redis.xrange(self.stream_key(org_id), min=f"({since}", max="+") or []
        return [self._from_row(row) for row in rows]

    @staticmethod
    def _from_row(row: Any) -> Delivery:
        event_id, fields = row
        return _delivery(_text(event_id), fields[b"e"])

    @contextlib.asynccontextmanager
    async def subscribe(
        self, org_id: UUID, *, since: str | None = None, replay: int = 0, queue_size: int | None = None
    ) -> AsyncIterator[Subscription]:
        """Live events of one org, after a replay of up to ``replay`` recent events (after ``since``).

        The subscriber is registered before the replay is read, so nothing published in between is
        lost, and the replay/live overlap is delivered once. Raises ServiceUnavailable without Redis,
        ValueError for a malformed ``since``.
        """
        if since is not None and not valid_event_id(since):
            raise ValueError(f"not an event id: {since!r}")
        if self._hub is None:
            self._hub = _Hub(self._redis, self)
        hub = self._hub
        subscription = Subscription(org_id, queue_size or self.queue_size)
        await hub.add(subscription)
        try:
            deliveries, baseline = await self._replay(org_id, since, replay)
            subscription.prime(deliveries, baseline)
            yield subscription
        finally:
            hub.remove(subscription)

    @property
    def local_subscribers(self) -> int:
        return self._hub.subscriber_count if self._hub else 0

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._hub is not None:
            await self._hub.aclose()
