"""EventBus against a real Redis: publish, replay, subscribe, fan-out across processes, slow consumers,
reconnects and Redis being down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import ClassVar

import pytest

from app.domain.tutor import bus_events
from app.domain.tutor.budgets import BudgetLimits, TokenBudget, budget_scopes
from app.lib.events import (
    BUDGET_ALERT,
    EVENT_TYPES,
    PUBLISHED,
    REVIEW_DECIDED,
    SUBMISSION_ESCALATED,
    EventBus,
    EventPayload,
    FeedEvent,
    ReviewDecided,
    SlowConsumer,
    SubmissionEscalated,
    Subscription,
)
from app.lib.redis import create_redis


@pytest.fixture
async def buses(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two buses on separate clients: two API processes, as far as Redis can tell."""
    clients = [create_redis(redis_url), create_redis(redis_url)]
    pair = (EventBus(clients[0], redis_prefix, max_len=50), EventBus(clients[1], redis_prefix, max_len=50))
    yield pair
    for bus in pair:
        await bus.aclose()
    for client in clients:
        await client.aclose()


def decided(n: int) -> ReviewDecided:
    """A review decision whose score numbers it: ordering checks read it back."""
    return ReviewDecided(submission_id=uuid.uuid4(), reviewer_id=uuid.uuid4(), decision="override", score=float(n))


class MadeUp(EventPayload, frozen=True):
    TYPE: ClassVar[str] = "made.up"
    n: int


async def take(sub: Subscription, count: int) -> list[FeedEvent]:
    events = []
    for _ in range(count):
        delivery = await asyncio.wait_for(sub.next(), 10)
        assert delivery is not None
        events.append(delivery.event)
    return events


async def test_publish_reaches_subscribers_of_the_org_in_every_process(buses: tuple[EventBus, EventBus]) -> None:
    here, there = buses
    org, other_org = uuid.uuid4(), uuid.uuid4()
    async with (
        here.subscribe(org) as local,
        there.subscribe(org) as remote,
        there.subscribe(other_org) as other,
    ):
        escalated = SubmissionEscalated(
            submission_id=uuid.uuid4(),
            course_id=uuid.uuid4(),
            item_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            reason="low_confidence",
            confidence=0.4,
        )
        event_id = await here.publish(org, escalated)
        await here.publish(other_org, decided(1))
        [mine] = await take(local, 1)
        [theirs] = await take(remote, 1)
        [elsewhere] = await take(other, 1)
    assert mine == theirs
    assert mine.id == event_id
    assert (mine.type, mine.org_id, mine.data) == (
        SUBMISSION_ESCALATED,
        org,
        {
            "submission_id": str(escalated.submission_id),
            "course_id": str(escalated.course_id),
            "item_id": str(escalated.item_id),
            "user_id": str(escalated.user_id),
            "reason": "low_confidence",
            "confidence": 0.4,
        },
    )
    assert mine.payload() == escalated
    assert elsewhere.org_id == other_org
    assert here.local_subscribers == there.local_subscribers == 0


async def test_replay_since_and_limit_and_the_stream_is_capped(buses: tuple[EventBus, EventBus]) -> None:
    bus, _ = buses
    org = uuid.uuid4()
    ids = [await bus.publish(org, decided(n)) for n in range(120)]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    latest = await bus.replay(org, None, 5)
    assert [e.data["score"] for e in latest] == [115, 116, 117, 118, 119]
    after = await bus.replay(org, ids[110], 500)
    assert [e.data["score"] for e in after] == list(range(111, 120))
    assert await bus.replay(org, ids[-1], 10) == []
    assert await bus.replay(org, None, 0) == []
    kept = await bus.replay(org, "0", 1000)
    assert 50 <= len(kept) < 120, "MAXLEN ~ 50 trims in whole nodes: about 50 are kept, never all"
    with pytest.raises(ValueError, match="event id"):
        await bus.replay(org, "yesterday", 5)


async def test_subscribe_replays_then_goes_live_without_gaps_or_duplicates(buses: tuple[EventBus, EventBus]) -> None:
    bus, publisher = buses
    org = uuid.uuid4()
    first = await publisher.publish(org, decided(0))
    await publisher.publish(org, decided(1))
    async with bus.subscribe(org, since=first, replay=10) as sub:
        assert sub.replayed == 1
        await publisher.publish(org, decided(2))
        assert [e.data["score"] for e in await take(sub, 2)] == [1, 2]
        assert sub.replay_done


async def test_a_slow_subscriber_is_dropped_and_the_others_get_everything(buses: tuple[EventBus, EventBus]) -> None:
    bus, publisher = buses
    org = uuid.uuid4()
    async with bus.subscribe(org, queue_size=4) as slow, bus.subscribe(org, queue_size=4) as fast:
        got: list[FeedEvent] = []
        for n in range(10):
            await publisher.publish(org, decided(n))
            got.extend(await take(fast, 1))  # the fast one keeps up; the slow one never reads
        assert [e.data["score"] for e in got] == list(range(10))
        assert slow.dropped.is_set()
        with pytest.raises(SlowConsumer):
            await slow.next()
        assert bus.local_subscribers == 1


async def test_hub_reconnect_delivers_every_event_once(buses: tuple[EventBus, EventBus]) -> None:
    bus, publisher = buses
    org = uuid.uuid4()
    async with bus.subscribe(org) as sub:
        await publisher.publish(org, decided(0))
        await take(sub, 1)
        hub = bus._hub
        assert hub is not None
        connection = hub._pubsub.connection if hub._pubsub is not None else None
        assert connection is not None
        await connection.disconnect()  # the pub/sub connection drops
        for n in range(1, 4):
            await publisher.publish(org, decided(n))
        assert [e.data["score"] for e in await take(sub, 3)] == [1, 2, 3]
        await publisher.publish(org, decided(4))
        assert [e.data["score"] for e in await take(sub, 1)] == [4]


async def test_redis_down_publish_does_not_raise(redis_prefix: str) -> None:
    client = create_redis("redis://127.0.0.1:1/0")
    bus = EventBus(client, redis_prefix, publisher=create_redis("redis://127.0.0.1:1/0", role="limiter"))
    failures = PUBLISHED.labels(REVIEW_DECIDED, "unavailable")._value.get()
    assert await bus.publish(uuid.uuid4(), decided(1)) == ""
    bus.publish_soon(uuid.uuid4(), decided(2))
    await bus.aclose()  # waits for the background publish
    assert PUBLISHED.labels(REVIEW_DECIDED, "unavailable")._value.get() == failures + 2
    with pytest.raises(ValueError, match="unknown event"):
        await bus.publish(uuid.uuid4(), MadeUp(n=1))
    await client.aclose()


def test_event_types_are_the_documented_ones() -> None:
    assert sorted(EVENT_TYPES) == [
        "alert.fired",
        "assessment.graded",
        "budget.alert",
        "credential.issued",
        "credential.revoked",
        "review.claimed",
        "review.decided",
        "submission.escalated",
        "submission.graded",
        "tutor.blocked",
        "tutor.session_started",
    ]


async def test_budget_alert_fires_once_per_scope_and_period(redis_url: str, redis_prefix: str) -> None:
    client = create_redis(redis_url)
    limiter = create_redis(redis_url, role="limiter")
    bus = EventBus(client, redis_prefix)
    budget = TokenBudget(limiter, redis_prefix)
    org, course, user, session = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    scopes = budget_scopes(org, course, user, session, BudgetLimits(10_000_000, 10_000_000, 10_000_000, 1000))
    chat = SimpleNamespace(org_id=org, course_id=course, user_id=user, id=session)
    try:
        async with bus.subscribe(org) as sub:
            for used in (500, 350, 100):  # 50% (quiet), 85% (alert), 95% (already alerted this period)
                reservation = await budget.reserve(scopes, used, 1, min_output_tokens=0)
                await budget.settle(reservation, used, 0)
                await bus_events._check_budgets(bus, budget, limiter, redis_prefix, chat, reservation)  # type: ignore[arg-type]
            [alert] = await take(sub, 1)
            assert await bus.replay(org, alert.id, 10) == []
        assert alert.type == BUDGET_ALERT
        assert alert.data["scope"] == "session"
        assert (alert.data["used_tokens"], alert.data["limit_tokens"]) == (850, 1000)
        assert alert.data["session_id"] == str(session)
    finally:
        await bus.aclose()
        await client.aclose()
        await limiter.aclose()
