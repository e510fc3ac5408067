"""Per-org retention of AI transcript text (``organizations.transcript_retention_days``).

The worker's daily ``purge_expired_transcripts`` (LYCEUM_TRANSCRIPT_PURGE_CRON) visits every org with a
retention set (a definer function lists them, ids and days only) and, in that org's own RLS transaction, marks
up to ``PURGE_BATCH`` older ``ai_interactions`` rows ``content_purged_at`` (tutor turns and authoring previews
alike; grading calls store their text the same way). The row keeps its hash, tokens, cost, latency and
guardrail outcomes: metrics stay, text goes. After each commit the files no other unpurged row of the org
shares are deleted. One ``transcripts.purged`` audit entry and one ``transcripts_purged`` redaction event per
org and run record the count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select, text, update

from app.db.engine import Database
from app.db.models import AIInteraction, RedactionEvent
from app.domain.audit.services import record_audit
from app.domain.dataprivacy.objects import delete_objects, unreferenced
from app.lib.objectstore import ObjectStore

PURGE_BATCH = 500


@dataclass
class PurgeReport:
    orgs: int = 0
    purged: int = 0
    files_deleted: int = 0
    per_org: dict[str, int] = field(default_factory=dict)


async def retention_orgs(db: Database) -> list[tuple[UUID, int]]:
    async with db.transaction(None) as session:
        rows = await session.execute(text("select org_id, days from lyceum_transcript_retention_orgs()"))
        return [(row[0], int(row[1])) for row in rows]


async def _purge_batch(db: Database, org_id: UUID, cutoff: datetime, now: datetime) -> list[str]:
    """Mark one batch purged; returns the object keys of the rows marked."""
    batch = (
        select(AIInteraction.id)
        .where(AIInteraction.created_at < cutoff, AIInteraction.content_purged_at.is_(None))
        .order_by(AIInteraction.created_at)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with db.transaction(org_id) as session:
        keys = await session.scalars(
            update(AIInteraction)
            .where(AIInteraction.id.in_(batch))
            .values(content_purged_at=now)
            .returning(AIInteraction.object_key)
        )
        return list(keys.all())


async def purge_org(db: Database, objects: ObjectStore, org_id: UUID, days: int, now: datetime) -> tuple[int, int]:
    """Purge the org's transcript text older than ``days``; returns (rows purged, files deleted)."""
    cutoff = now - timedelta(days=days)
    purged = files = 0
    while True:
        keys = await _purge_batch(db, org_id, cutoff, now)
        purged += len(keys)
        files += await delete_objects(objects, await unreferenced(db, org_id, keys))
        if len(keys) < PURGE_BATCH:
            break
    if purged:
        async with db.transaction(org_id) as session:
            detail = {"purged": purged, "files_deleted": files, "retention_days": days, "cutoff": cutoff.isoformat()}
            session.add(RedactionEvent(org_id=org_id, user_id=None, kind="transcripts_purged", detail=detail))
            record_audit(
                session,
                org_id=org_id,
                actor_id=None,
                action="transcripts.purged",
                entity_type="organization",
                entity_id=org_id,
                after=detail,
            )
    return purged, files


async def purge_expired(db: Database, objects: ObjectStore, now: datetime | None = None) -> PurgeReport:
    """Every org with a retention set; an org with nothing old enough writes nothing."""
    at = now or datetime.now(UTC)
    report = PurgeReport()
    for org_id, days in await retention_orgs(db):
        purged, files = await purge_org(db, objects, org_id, days, at)
        report.orgs += 1
        report.purged += purged
        report.files_deleted += files
        report.per_org[str(org_id)] = purged
    return report
