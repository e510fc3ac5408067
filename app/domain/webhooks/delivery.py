"""From the outbox to the receivers: the relay makes deliveries, the deliverer sends them (docs/webhooks.md).

- **Relay** (``relay``): per org, the outbox rows not yet relayed are locked ``FOR UPDATE SKIP LOCKED``
  (two relays running at once take disjoint rows), one delivery is inserted per subscribed enabled endpoint
  registered before the event (unique per (event, endpoint): a second insert does nothing) and the rows
  are marked relayed, all in one transaction; after the commit each new delivery gets a
  ``webhooks_deliver`` job keyed by its id.
- **Deliverer** (``Deliverer.deliver``, the job): claims the delivery (a short lease, so the HTTP call holds
  no transaction), asks the endpoint's circuit breaker, signs and POSTs the body, and records the answer.
  A failure schedules the next attempt on ``RETRY_SCHEDULE`` with jitter; the last one marks the delivery
  failed (a dead letter) and, when the endpoint has not succeeded since the delivery was made, disables the
  endpoint with a notice (an audit entry, and ``disabled_reason`` on the endpoint).
- **Breaker**: ``webhooks_breaker_threshold`` failures in a row open it for the cooldown; deliveries due
  meanwhile wait (no attempt spent). After the cooldown one delivery probes (half-open): success closes it,
  failure opens it again.
- **Sweep** (``due_deliveries``): deliveries whose next attempt is due, whatever lost their job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from uuid import UUID

import httpx
import msgspec
import structlog
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import DeadLetter, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.domain.audit.services import record_audit
from app.domain.webhooks.outbox import WEBHOOK_PAYLOADS
from app.lib.sealing import key_encryption_key, unseal
from app.lib.webhooks import SendResult, send, sign_headers

log = structlog.get_logger("lyceum.webhooks")

# Seconds to wait after each failed attempt (Standard Webhooks' suggested schedule): 8 attempts over about
# 27 hours; each wait varies by up to +-20 % so a receiver's outage does not end in a thundering herd.
RETRY_SCHEDULE: Final = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER: Final = 0.2
RELAY_BATCH: Final = 200
# A claimed delivery is not due again until this long after the timeout: a job that died mid-send is
# retried by the sweep, not twice at once.
LEASE_MARGIN_SECONDS: Final = 30
DELIVER_FUNCTION: Final = "webhooks_deliver"

_RNG = random.Random()  # noqa: S311 - jitter, not a secret
Outcome = Literal["delivered", "retrying", "failed", "postponed", "skipped"]


def delivery_job_key(delivery_id: object) -> str:
    """One live job per delivery: the relay's enqueue, the sweep's and a replay never overlap."""
    return f"webhooks_deliver:{delivery_id}"


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures, or None when they are used up."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[failed_attempts - 1]
    return base * (1 + (rng or _RNG).uniform(-JITTER, JITTER))


def webhook_body(event: WebhookEvent) -> str:
    """``{"type", "timestamp", "data"}`` with ``data`` in its payload's field order (decoded through the
    typed payload, so the wire shape is the catalogue's)."""
    data: Any = event.data
    payload_type = WEBHOOK_PAYLOADS.get(event.type)
    if payload_type is not None:
        try:
            data = msgspec.convert(event.data, payload_type)
        except msgspec.ValidationError:
            data = event.data
    body = {"type": event.type, "timestamp": event.occurred_at.astimezone(UTC).isoformat(), "data": data}
    return msgspec.json.encode(body).decode()


def secret_aad(endpoint_id: UUID) -> bytes:
    return f"webhook_endpoint:{endpoint_id}".encode()


# ---------------------------------------------------------------------------------------------- relay


async def relay_org(db: Database, org_id: UUID, *, limit: int = RELAY_BATCH) -> tuple[list[UUID], int]:
    """Turn up to ``limit`` of the org's unrelayed outbox rows into deliveries; returns the new delivery ids
    and how many rows were taken (``limit`` taken: there may be more)."""
    async with db.transaction(org_id) as session:
        events = list(
            await session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.relayed_at.is_(None))
                .order_by(WebhookEvent.created_at, WebhookEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not events:
            return [], 0
        endpoints = list(await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))))
        now = datetime.now(UTC)
        rows = [
            {
                "org_id": org_id,
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
            for event in events
            for endpoint in endpoints
            # An endpoint gets the events of its types that happened once it was registered, not older ones
            # still waiting in the outbox (written for another endpoint).
            if event.type in endpoint.events and endpoint.created_at <= event.created_at
        ]
        created: list[UUID] = []
        if rows:
            created = list(
                await session.scalars(
                    insert(WebhookDelivery)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["event_id", "endpoint_id"])
                    .returning(WebhookDelivery.id)
                )
            )
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.id.in_([e.id for e in events])).values(relayed_at=now)
        )
    return created, len(events)


async def unrelayed_orgs(db: Database, limit: int = 1000) -> list[UUID]:
    async with db.transaction(None) as session:
        rows = await session.execute(text("select org_id from lyceum_webhook_unrelayed_orgs(:n)"), {"n": limit})
        return [row[0] for row in rows]


async def relay(db: Database, queue: Queue, settings: Settings) -> int:
    """Relay every org's outbox and queue a job per new delivery; returns how many deliveries were made."""
    made = 0
    for org_id in await unrelayed_orgs(db):
        while True:
            created, taken = await relay_org(db, org_id)
            made += len(created)
            for delivery_id in created:
                await enqueue_delivery(queue, settings, org_id, delivery_id)
            if taken < RELAY_BATCH:
                break
    return made


async def due_deliveries(db: Database, limit: int = 1000) -> list[tuple[UUID, UUID]]:
    """(delivery, org) of pending deliveries whose next attempt is due, across orgs (ids only)."""
    async with db.transaction(None) as session:
        rows = await session.execute(
            text("select delivery_id, org_id from lyceum_webhook_due_deliveries(:n)"), {"n": limit}
        )
        return [(row[0], row[1]) for row in rows]


async def enqueue_delivery(queue: Queue, settings: Settings, org_id: UUID, delivery_id: UUID) -> bool:
    """Queue one delivery's job; False when none was queued (one is live for it, or Redis is away: the
    sweep queues it again once it is due)."""
    try:
        job = await queue.enqueue(
            DELIVER_FUNCTION,
            key=delivery_job_key(delivery_id),
            org_id=str(org_id),
            delivery_id=str(delivery_id),
            timeout=int(settings.webhooks_timeout_seconds) + LEASE_MARGIN_SECONDS,
        )
    except (RedisError, OSError) as exc:
        log.warning("webhook_enqueue_failed", delivery_id=str(delivery_id), error=str(exc))
        return False
    return job is not None


# ---------------------------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class _Claim:
    url: str
    secret: str
    message_id: str
    body: str


@dataclass(eq=False, repr=False, kw_only=True)
class Deliverer:
    """Sends one org's deliveries. ``transport`` and ``rng`` are for tests (a fixed jitter)."""

    db: Database
    org_id: UUID
    settings: Settings
    transport: httpx.AsyncBaseTransport | None = None
    rng: random.Random = field(default_factory=random.Random)

    async def deliver(self, delivery_id: UUID, *, now: datetime | None = None) -> Outcome:
        now = now or datetime.now(UTC)
        claimed = await self._claim(delivery_id, now)
        if not isinstance(claimed, _Claim):
            return claimed
        # Signed when sent (not at ``now``, which only decides what is due): receivers reject stale timestamps.
        headers = sign_headers(claimed.secret, claimed.message_id, datetime.now(UTC), claimed.body)
        result = await send(
            claimed.url,
            claimed.body,
            headers,
            allow_private=self.settings.webhooks_allow_private,
            timeout=self.settings.webhooks_timeout_seconds,
            transport=self.transport,
        )
        return await self._record(delivery_id, result, now)

    async def _claim(self, delivery_id: UUID, now: datetime) -> _Claim | Outcome:
        async with self.db.transaction(self.org_id) as session:
            delivery = await session.scalar(
                select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(skip_locked=True)
            )
            if delivery is None or delivery.status != "pending":
                return "skipped"  # gone, being sent by another job, or settled
            if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                return "skipped"  # not due (leased by a running attempt, or waiting for its retry)
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id).with_for_update()
            )
            event = await session.get(WebhookEvent, delivery.event_id)
            if endpoint is None or event is None:
                return "skipped"
            if not endpoint.enabled:
                delivery.status, delivery.next_attempt_at = "failed", None
                delivery.last_error = "endpoint disabled: not sent (replay it once the endpoint is enabled)"
                return "failed"
            cooldown = timedelta(seconds=self.settings.webhooks_breaker_cooldown_seconds)
            if endpoint.breaker_open_until is not None:
                if endpoint.breaker_open_until > now:
                    delivery.next_attempt_at = endpoint.breaker_open_until  # open: wait, spend no attempt
                    return "postponed"
                # Half-open: this delivery probes; the others wait for its answer (another cooldown at most).
                endpoint.breaker_open_until = now + cooldown
            delivery.next_attempt_at = now + timedelta(
                seconds=self.settings.webhooks_timeout_seconds + LEASE_MARGIN_SECONDS
            )
            secret = unseal(endpoint.secret_sealed, key_encryption_key(self.settings), secret_aad(endpoint.id)).decode()
            return _Claim(url=endpoint.url, secret=secret, message_id=f"msg_{event.id}", body=webhook_body(event))

    async def _record(self, delivery_id: UUID, result: SendResult, now: datetime) -> Outcome:
        async with self.db.transaction(self.org_id) as session:
            delivery = await session.scalar(
                select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
            )
            if delivery is None:
                return "skipped"  # the endpoint was deleted meanwhile
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id).with_for_update()
            )
            assert endpoint is not None  # the delivery cascades with it
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = result.status
            delivery.last_error = result.error[:1000]
            if result.ok:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
                endpoint.consecutive_failures, endpoint.breaker_open_until = 0, None
                endpoint.last_success_at = now
                return "delivered"
            endpoint.consecutive_failures += 1
            endpoint.last_failure_at = now
            if endpoint.consecutive_failures >= self.settings.webhooks_breaker_threshold:
                endpoint.breaker_open_until = now + timedelta(seconds=self.settings.webhooks_breaker_cooldown_seconds)
            delay = retry_delay(delivery.attempts, self.rng)
            if delay is not None:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                log.info("webhook_retry", delivery_id=str(delivery_id), attempt=delivery.attempts, error=result.error)
                return "retrying"
            delivery.status, delivery.next_attempt_at = "failed", None
            self._dead_letter(session, delivery)
            if endpoint.enabled and (
                endpoint.last_success_at is None or endpoint.last_success_at < delivery.created_at
            ):
                self._disable(session, endpoint, delivery, now)
            return "failed"

    def _dead_letter(self, session: AsyncSession, delivery: WebhookDelivery) -> None:
        session.add(
            DeadLetter(
                org_id=self.org_id,
                job_key=delivery_job_key(delivery.id),
                function=DELIVER_FUNCTION,
                attempts=delivery.attempts,
                reason=delivery.last_error or f"answered {delivery.last_status_code}",
                payload={"delivery_id": str(delivery.id), "endpoint_id": str(delivery.endpoint_id)},
            )
        )

    def _disable(
        self, session: AsyncSession, endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime
    ) -> None:
        """Persistent failure: every attempt of a delivery failed and nothing reached the endpoint since it
        was made (about a day). Stop sending; the admin sees why on the endpoint and in the audit log."""
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"Disabled automatically at {now.isoformat(timespec='seconds')}: every attempt of a delivery failed "
            f"over {delivery.attempts} tries since {delivery.created_at.isoformat(timespec='seconds')} "
            f"(last: {delivery.last_error[:200] or delivery.last_status_code}). Fix the receiver, enable the "
            "endpoint and replay the failed deliveries."
        )
        session.info.pop("lyceum.webhook_subscriptions", None)
        record_audit(
            session,
            org_id=self.org_id,
            actor_id=None,
            action="webhook_endpoint.auto_disabled",
            entity_type="webhook_endpoint",
            entity_id=endpoint.id,
            before={"enabled": True},
            after={"enabled": False, "reason": endpoint.disabled_reason},
        )
        log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), org_id=str(self.org_id))
