"""The webhook outbox's retention: relayed events older than LYCEUM_WEBHOOKS_RETENTION_DAYS go, with their
delivery log (deliveries cascade), once none of their deliveries is still pending. The worker runs it daily
(``webhooks_prune``, LYCEUM_WEBHOOKS_PRUNE_CRON).

Which orgs have such events comes from a definer function (ids only, as for the relay); the deletes run in
each org's own transaction under row-level security, in batches so one run never holds a long lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, exists, select, text

from app.db.engine import Database
from app.db.models import WebhookDelivery, WebhookEvent

PRUNE_BATCH = 1000


async def prunable_orgs(db: Database, cutoff: datetime, limit: int = 1000) -> list[UUID]:
    async with db.transaction(None) as session:
        rows = await session.execute(
            text("select org_id from lyceum_webhook_prunable_orgs(:cutoff, :n)"), {"cutoff": cutoff, "n": limit}
        )
        return [row[0] for row in rows]


async def prune_org(db: Database, org_id: UUID, cutoff: datetime, *, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` of the org's events relayed before ``cutoff`` with no pending delivery."""
    pending = exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == "pending")
    batch = (
        select(WebhookEvent.id)
        .where(WebhookEvent.relayed_at < cutoff, ~pending)
        .limit(limit)
        .with_for_update(skip_locked=True)  # a replay touching one of them waits for nothing
        .scalar_subquery()
    )
    async with db.transaction(org_id) as session:
        deleted = await session.scalars(
            delete(WebhookEvent).where(WebhookEvent.id.in_(batch)).returning(WebhookEvent.id)
        )
        return len(deleted.all())


async def prune(db: Database, retention_days: int, now: datetime | None = None) -> int:
    """Prune every org's old events; returns how many events went (their deliveries with them)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    pruned = 0
    for org_id in await prunable_orgs(db, cutoff):
        while True:
            deleted = await prune_org(db, org_id, cutoff)
            pruned += deleted
            if deleted < PRUNE_BATCH:
                break
    return pruned
