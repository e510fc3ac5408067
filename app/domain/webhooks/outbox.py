"""The outbox: the one way a change reports a webhook event, inside the change's own transaction.

``record_event(session, org_id, payload)`` writes a ``webhook_events`` row in the caller's transaction, so
the event commits with the change or not at all (a rolled-back enrolment sends nothing; a committed one
cannot lose its event to a crash or Redis being away). It also asks PostgreSQL to NOTIFY the relay, which
PostgreSQL delivers only when the transaction commits: the wake-up can never run ahead of the data.

An org with no enabled endpoint subscribed to the type writes nothing (one indexed read per transaction
and org, cached on the session), so the learning paths pay almost nothing where webhooks are unused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookEndpoint, WebhookEvent
from app.lib.event_payloads import (
    AssessmentGraded,
    CourseCompleted,
    CredentialIssued,
    CredentialRevoked,
    EnrollmentCreated,
    EventPayload,
    ItemCompleted,
    ReviewDecided,
    UserProvisioned,
)

# The webhook event catalogue (docs/webhooks.md): type -> its typed ``data``.
WEBHOOK_PAYLOADS: Final[dict[str, type[EventPayload]]] = {
    cls.TYPE: cls
    for cls in (
        EnrollmentCreated,
        ItemCompleted,
        CourseCompleted,
        AssessmentGraded,
        ReviewDecided,
        CredentialIssued,
        CredentialRevoked,
        UserProvisioned,
    )
}
WEBHOOK_EVENT_TYPES: Final = tuple(WEBHOOK_PAYLOADS)
NOTIFY_CHANNEL: Final = "lyceum_webhooks"
_SUBSCRIBED = "lyceum.webhook_subscriptions"


async def subscribed_types(session: AsyncSession, org_id: UUID) -> frozenset[str]:
    """The event types some enabled endpoint of ``org_id`` subscribes to (read once per transaction)."""
    cache: dict[UUID, frozenset[str]] = session.info.setdefault(_SUBSCRIBED, {})
    if org_id not in cache:
        rows = await session.scalars(
            select(WebhookEndpoint.events).where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.enabled.is_(True))
        )
        cache[org_id] = frozenset(t for events in rows for t in events)
    return cache[org_id]


async def record_event(
    session: AsyncSession, org_id: UUID, payload: EventPayload, *, occurred_at: datetime | None = None
) -> UUID | None:
    """Put ``payload`` in the outbox in the caller's transaction; returns the event id, or None when no
    enabled endpoint of the org subscribes to its type (nothing written)."""
    if payload.TYPE not in WEBHOOK_PAYLOADS:
        raise ValueError(f"{payload.TYPE!r} is not a webhook event type")
    if payload.TYPE not in await subscribed_types(session, org_id):
        return None
    event_id = uuid.uuid4()
    now = datetime.now(UTC)
    await session.execute(
        insert(WebhookEvent).values(
            id=event_id,
            org_id=org_id,
            type=payload.TYPE,
            data=msgspec.to_builtins(payload),
            occurred_at=occurred_at or now,
            created_at=now,
            updated_at=now,
        )
    )
    # Queued by PostgreSQL until the commit (and dropped on rollback); identical notifications of one
    # transaction fold into one.
    await session.execute(text("select pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
    return event_id
