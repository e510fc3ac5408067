"""Delivering: signatures a Standard Webhooks verifier accepts, the retry schedule, the circuit breaker
(open, half-open, closed), auto-disable after persistent failure with its notice, replay, the dead letter,
the SSRF re-check at delivery time (and the connection going to the checked address), redirects not
followed, and the answer's read cap.

The deliveries here are made directly (an outbox row already relayed, a delivery due far in the future) and
sent with ``Deliverer.deliver(now=...)``: the test owns the clock, and a worker another test module left
running (the suite shares one database) never finds them due."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import AuditLogEntry, DeadLetter, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.domain.webhooks.delivery import RETRY_SCHEDULE, Deliverer, retry_delay, webhook_body
from app.lib.event_payloads import EnrollmentCreated
from app.lib.webhooks import MAX_RESPONSE_BYTES
from tests.integration.webhooks.conftest import Client
from tests.support.webhooks import Receiver

FUTURE = datetime.now(UTC) + timedelta(days=30)


async def endpoint(client: Client, admin: dict[str, str], receiver: Receiver, path: str) -> dict[str, Any]:
    created = await client.post(
        "/v1/admin/webhooks", headers=admin, json={"url": receiver.url(path), "events": ["enrollment.created"]}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    receiver.secrets[path] = body["secret"]
    return body


async def make_delivery(db: Database, org: uuid.UUID, endpoint_id: str, at: datetime = FUTURE) -> uuid.UUID:
    """An outbox row (already relayed) and its delivery to ``endpoint_id``, due at ``at``."""
    payload = EnrollmentCreated(enrollment_id=uuid.uuid4(), course_id=uuid.uuid4(), user_id=uuid.uuid4())
    async with db.transaction(org) as session:
        event = WebhookEvent(
            org_id=org,
            type=payload.TYPE,
            data={k: str(getattr(payload, k)) for k in payload.__struct_fields__},
            occurred_at=datetime.now(UTC),
            relayed_at=datetime.now(UTC),
        )
        session.add(event)
        await session.flush()
        delivery = WebhookDelivery(
            org_id=org,
            event_id=event.id,
            endpoint_id=uuid.UUID(endpoint_id),
            status="pending",
            attempts=0,
            next_attempt_at=at,
            last_error="",
        )
        session.add(delivery)
        await session.flush()
        return delivery.id


async def delivery_row(db: Database, org: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    async with db.transaction(org) as session:
        row = await session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


async def endpoint_row(db: Database, org: uuid.UUID, endpoint_id: str) -> WebhookEndpoint:
    async with db.transaction(org) as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        assert row is not None
        return row


def deliverer(db: Database, org: uuid.UUID, settings: Settings, **kwargs: Any) -> Deliverer:
    return Deliverer(db=db, org_id=org, settings=settings, rng=random.Random(7), **kwargs)


async def test_a_delivery_is_signed_so_the_standard_verifier_accepts_it(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    hook = await endpoint(client, demo_admin, receiver, "/signed")
    delivery_id = await make_delivery(db, demo_org, hook["id"])
    outcome = await deliverer(db, demo_org, settings).deliver(delivery_id, now=datetime.now(UTC) + timedelta(days=31))
    # ``now`` only decides what is due; the signature's timestamp is the sending time's (the verifier checks it).
    assert outcome == "delivered"
    [got] = receiver.on("/signed")
    assert got.verified, got.headers
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["content-type"] == "application/json"
    assert list(got.payload) == ["type", "timestamp", "data"]
    assert got.payload["type"] == "enrollment.created"
    assert list(got.payload["data"]) == ["enrollment_id", "course_id", "user_id"]
    row = await delivery_row(db, demo_org, delivery_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("delivered", 1, 200, "")
    # The log through the API, with the response code.
    log = (await client.get(f"/v1/admin/webhooks/{hook['id']}/deliveries", headers=demo_admin)).json()["items"]
    assert [(d["status"], d["last_status_code"], d["event_type"]) for d in log] == [
        ("delivered", 200, "enrollment.created")
    ]
    # A wrong secret does not verify (the receiver's check is real).
    receiver.secrets["/signed"] = "whsec_" + "A" * 32
    await deliverer(db, demo_org, settings).deliver(await make_delivery(db, demo_org, hook["id"]), now=FUTURE)
    assert not receiver.on("/signed")[-1].verified


async def test_a_delivery_is_signed_at_send_time_with_the_rotated_secret(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    hook = await endpoint(client, demo_admin, receiver, "/rotated")
    delivery_id = await make_delivery(db, demo_org, hook["id"])
    rotated = (await client.post(f"/v1/admin/webhooks/{hook['id']}/rotate-secret", headers=demo_admin)).json()
    receiver.secrets["/rotated"] = rotated["secret"]
    assert await deliverer(db, demo_org, settings).deliver(delivery_id, now=FUTURE) == "delivered"
    assert receiver.on("/rotated")[-1].verified


def test_the_retry_schedule_spans_about_a_day_with_bounded_jitter() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, len(RETRY_SCHEDULE) + 2)]
    assert delays[-1] is None  # attempts used up: 1 + len(RETRY_SCHEDULE) in all
    waits = [d for d in delays if d is not None]
    for wait, base in zip(waits, RETRY_SCHEDULE, strict=True):
        assert base * 0.8 <= wait <= base * 1.2
    assert 20 * 3600 <= sum(waits) <= 34 * 3600
    assert sum(RETRY_SCHEDULE) / 3600 > 24
    assert retry_delay(0) is None


async def test_failures_retry_on_schedule_then_dead_letter_and_disable_the_endpoint(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    hook = await endpoint(client, demo_admin, receiver, "/down")
    receiver.statuses["/down"] = [503]
    delivery_id = await make_delivery(db, demo_org, hook["id"])
    # A breaker that never opens here: this test is about the schedule.
    sender = deliverer(db, demo_org, replace(settings, webhooks_breaker_threshold=1000))
    now = FUTURE
    expected_rng = random.Random(7)
    for attempt in range(1, len(RETRY_SCHEDULE) + 1):
        assert await sender.deliver(delivery_id, now=now) == "retrying"
        row = await delivery_row(db, demo_org, delivery_id)
        assert row.attempts == attempt
        assert row.last_status_code == 503
        assert row.last_error.startswith("answered 503")
        assert len(row.last_error) <= 1000  # the 64 KiB answer was not kept (nor read past the cap)
        wait = retry_delay(attempt, expected_rng)
        assert wait is not None
        assert row.next_attempt_at == now + timedelta(seconds=wait)
        # Not due before its time: a job that comes early does nothing.
        assert await sender.deliver(delivery_id, now=now + timedelta(seconds=wait / 2)) == "skipped"
        now = row.next_attempt_at
    assert await sender.deliver(delivery_id, now=now) == "failed"
    row = await delivery_row(db, demo_org, delivery_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", len(RETRY_SCHEDULE) + 1, None)
    assert len(receiver.on("/down")) == len(RETRY_SCHEDULE) + 1
    # Persistent failure: dead letter, endpoint disabled with a notice visible in the API and the audit log.
    async with db.transaction(demo_org) as session:
        letters = list(await session.scalars(select(DeadLetter).where(DeadLetter.job_key.contains(str(delivery_id)))))
        audits = list(await session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == hook["id"])))
    assert [(d.function, d.attempts) for d in letters] == [("webhooks_deliver", len(RETRY_SCHEDULE) + 1)]
    assert "webhook_endpoint.auto_disabled" in [a.action for a in audits]
    shown = (await client.get(f"/v1/admin/webhooks/{hook['id']}", headers=demo_admin)).json()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("Disabled automatically")
    assert shown["disabled_at"] is not None
    # Disabled: a new delivery to it fails without being sent, and replay waits for the admin to enable it.
    other = await make_delivery(db, demo_org, hook["id"])
    assert await sender.deliver(other, now=FUTURE) == "failed"
    assert len(receiver.on("/down")) == len(RETRY_SCHEDULE) + 1
    replay_path = f"/v1/admin/webhooks/{hook['id']}/deliveries/{delivery_id}/replay"
    refused = await client.post(replay_path, headers=demo_admin)
    assert refused.status_code == 409, refused.text
    # Fixed and enabled: the replay starts a fresh schedule and gets through, with the same webhook-id.
    receiver.statuses["/down"] = [200]
    enabled = await client.patch(f"/v1/admin/webhooks/{hook['id']}", headers=demo_admin, json={"enabled": True})
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] == ""
    replayed = await client.post(replay_path, headers=demo_admin)
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
    assert (await client.post(replay_path, headers=demo_admin)).status_code == 409  # already pending
    # The replay also queued a webhooks_deliver job: a worker another module left running on this queue may
    # claim it first (this call then finds it claimed: "skipped"). Either way it is delivered, once.
    outcome = await sender.deliver(delivery_id, now=datetime.now(UTC) + timedelta(seconds=1))
    if outcome == "skipped":
        deadline = time.monotonic() + 60
        while (await delivery_row(db, demo_org, delivery_id)).status != "delivered":
            assert time.monotonic() < deadline, "the replayed delivery was never delivered"
            await asyncio.sleep(0.1)
    else:
        assert outcome == "delivered"
    first, last = receiver.on("/down")[0], receiver.on("/down")[-1]
    assert last.verified
    assert last.headers["webhook-id"] == first.headers["webhook-id"]  # idempotent receivers dedupe by it
    assert len(receiver.unique_ids("/down")) == 1


async def test_the_breaker_opens_waits_half_opens_and_closes(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    hook = await endpoint(client, demo_admin, receiver, "/flaky")
    receiver.statuses["/flaky"] = [500]
    strict = replace(settings, webhooks_breaker_threshold=2, webhooks_breaker_cooldown_seconds=600)
    sender = deliverer(db, demo_org, strict)
    first, second, third = [await make_delivery(db, demo_org, hook["id"]) for _ in range(3)]
    now = FUTURE
    assert await sender.deliver(first, now=now) == "retrying"
    assert (await endpoint_row(db, demo_org, hook["id"])).breaker_open_until is None  # one failure: closed
    assert await sender.deliver(second, now=now) == "retrying"
    opened = await endpoint_row(db, demo_org, hook["id"])
    assert opened.consecutive_failures == 2
    assert opened.breaker_open_until == now + timedelta(seconds=600)
    assert (await client.get(f"/v1/admin/webhooks/{hook['id']}", headers=demo_admin)).json()["breaker"] == "open"
    # Open: a due delivery waits for the cooldown, spending no attempt and sending nothing.
    sent = len(receiver.on("/flaky"))
    assert await sender.deliver(third, now=now + timedelta(seconds=1)) == "postponed"
    waiting = await delivery_row(db, demo_org, third)
    assert (waiting.attempts, waiting.next_attempt_at) == (0, now + timedelta(seconds=600))
    assert len(receiver.on("/flaky")) == sent
    # Half-open after the cooldown: one probe goes; while it is out, the others keep waiting.
    later = now + timedelta(seconds=601)
    assert await sender.deliver(third, now=later) == "retrying"  # the probe fails: open again
    reopened = await endpoint_row(db, demo_org, hook["id"])
    assert reopened.breaker_open_until == later + timedelta(seconds=600)
    # The next probe succeeds: closed, counters reset.
    receiver.statuses["/flaky"] = [200]
    probe_time = later + timedelta(seconds=601)
    fourth = await make_delivery(db, demo_org, hook["id"])
    assert await sender.deliver(fourth, now=probe_time) == "delivered"
    closed = await endpoint_row(db, demo_org, hook["id"])
    assert (closed.breaker_open_until, closed.consecutive_failures) == (None, 0)
    assert (await client.get(f"/v1/admin/webhooks/{hook['id']}", headers=demo_admin)).json()["breaker"] == "closed"


async def test_a_half_open_probe_holds_back_the_others(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    """The probe's claim re-opens the breaker for a cooldown before it sends, so a second delivery that
    comes due at the same moment waits instead of piling onto a receiver that may still be down."""
    hook = await endpoint(client, demo_admin, receiver, "/probe")
    async with db.transaction(demo_org) as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
        assert row is not None
        row.consecutive_failures, row.breaker_open_until = 5, FUTURE
    sender = deliverer(db, demo_org, settings)
    one, two = await make_delivery(db, demo_org, hook["id"]), await make_delivery(db, demo_org, hook["id"])
    claimed = await sender._claim(one, FUTURE + timedelta(seconds=1))
    assert not isinstance(claimed, str)
    assert await sender.deliver(two, now=FUTURE + timedelta(seconds=2)) == "postponed"


async def test_delivery_rechecks_the_address_and_refuses_private_ones(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    """Registered while allowed (127.0.0.1), delivered with LYCEUM_WEBHOOKS_ALLOW_PRIVATE off: refused
    before anything is sent, as a DNS answer that turned private after registration would be."""
    hook = await endpoint(client, demo_admin, receiver, "/rebound")
    delivery_id = await make_delivery(db, demo_org, hook["id"])
    strict = replace(settings, webhooks_allow_private=False)
    assert await deliverer(db, demo_org, strict).deliver(delivery_id, now=FUTURE) == "retrying"
    row = await delivery_row(db, demo_org, delivery_id)
    assert row.last_status_code is None
    assert row.last_error.startswith("refused:")
    assert "non-public address" in row.last_error or "https" in row.last_error
    assert receiver.on("/rebound") == []


async def test_the_connection_goes_to_the_checked_address(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    """A name is resolved once and the request is sent to that address with the name as Host: a second
    lookup (DNS rebinding) never happens between the check and the connection."""
    created = await client.post(
        "/v1/admin/webhooks",
        headers=demo_admin,
        json={"url": f"http://localhost:{receiver.port}/pinned", "events": ["enrollment.created"]},
    )
    assert created.status_code == 201, created.text
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    delivery_id = await make_delivery(db, demo_org, created.json()["id"])
    sender = deliverer(db, demo_org, settings, transport=httpx.MockTransport(record))
    assert await sender.deliver(delivery_id, now=FUTURE) == "delivered"
    [request] = seen
    assert request.url.host in ("127.0.0.1", "::1")  # the address, not the name
    assert request.headers["host"] == f"localhost:{receiver.port}"


async def test_redirects_are_not_followed(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    hook = await endpoint(client, demo_admin, receiver, "/moved")
    receiver.redirects["/moved"] = receiver.url("/elsewhere")
    delivery_id = await make_delivery(db, demo_org, hook["id"])
    assert await deliverer(db, demo_org, settings).deliver(delivery_id, now=FUTURE) == "retrying"
    row = await delivery_row(db, demo_org, delivery_id)
    assert row.last_status_code == 307
    assert "not followed" in row.last_error
    assert receiver.on("/elsewhere") == []


async def test_an_unreachable_receiver_is_a_failed_attempt(
    client: Client, demo_admin: dict[str, str], db: Database, demo_org: uuid.UUID, settings: Settings
) -> None:
    created = await client.post(
        "/v1/admin/webhooks",
        headers=demo_admin,
        json={"url": "http://127.0.0.1:9/closed", "events": ["item.completed"]},
    )
    delivery_id = await make_delivery(db, demo_org, created.json()["id"])
    assert await deliverer(db, demo_org, settings).deliver(delivery_id, now=FUTURE) == "retrying"
    row = await delivery_row(db, demo_org, delivery_id)
    assert row.last_status_code is None
    assert "ConnectError" in row.last_error


def test_the_body_is_the_catalogue_shape() -> None:
    event = WebhookEvent(
        type="enrollment.created",
        data={
            "user_id": str(uuid.UUID(int=3)),
            "course_id": str(uuid.UUID(int=2)),
            "enrollment_id": str(uuid.UUID(int=1)),
        },
        occurred_at=datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC),
    )
    assert webhook_body(event) == (
        '{"type":"enrollment.created","timestamp":"2026-12-01T01:02:03+00:00","data":{"enrollment_id":'
        '"00000000-0000-0000-0000-000000000001","course_id":"00000000-0000-0000-0000-000000000002",'
        '"user_id":"00000000-0000-0000-0000-000000000003"}}'
    )
    assert MAX_RESPONSE_BYTES <= 64 * 1024


async def _wait_for_a_lock_wait(db: Database, *, other_than: int) -> None:
    """Until another backend of this database waits for a row lock on a webhook table (bounded by a count of
    polls, not a clock: the test fails with a message rather than hanging)."""
    for _ in range(2000):
        async with db.engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "select count(*) from pg_stat_activity where datname = current_database() and pid <> :pid"
                    " and wait_event_type = 'Lock' and query ilike '%webhook%'"
                ),
                {"pid": other_than},
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the delete never waited for the attempt's lock")


async def test_deleting_an_endpoint_while_an_attempt_records_its_result_waits_for_it_instead_of_deadlocking(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    live_url: str,
) -> None:
    """An attempt locks its delivery, then its endpoint (Deliverer._record). The delete used to lock the
    endpoint, then (cascading) the deliveries: the opposite order, so the two deadlocked and PostgreSQL
    aborted one (the admin saw a 500). The delete now takes the locks in the attempt's order and waits.
    The delete goes to a live server (its own thread and loop): the in-process test client would run the
    request on this loop and block it while the delete waits for this test's lock."""
    ep = await endpoint(client, demo_admin, receiver, "/delete-race")
    delivery_id = await make_delivery(db, demo_org, ep["id"])
    async with httpx.AsyncClient(base_url=live_url, timeout=120) as http:
        async with db.transaction(demo_org) as attempt:
            pid = await attempt.scalar(text("select pg_backend_pid()"))
            await attempt.execute(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update())
            deleting = asyncio.create_task(http.delete(f"/v1/admin/webhooks/{ep['id']}", headers=demo_admin))
            await _wait_for_a_lock_wait(db, other_than=pid)
            await attempt.execute(
                select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(ep["id"])).with_for_update()
            )
        response = await deleting
    assert response.status_code == 204, response.text
    async with db.transaction(demo_org) as session:
        assert await session.get(WebhookDelivery, delivery_id) is None
