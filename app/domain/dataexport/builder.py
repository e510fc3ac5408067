"""The worker side of personal-data exports: build one export's zip (``build_data_export``), give up on one
(dead letter), and expire old ones in every org (``expire_data_exports``, via a definer function that names
the orgs; each org's rows are then changed in its own transaction under row-level security)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy import func, select, text, update

from app.config import Settings
from app.db.engine import Database
from app.db.models import DataExport, DeadLetter
from app.domain.dataexport.archive import build_zip, collect, transcript_lines
from app.lib.jobs import data_export_job_key
from app.lib.objectstore import ObjectStore

log = structlog.get_logger("lyceum.dataexport")


def namespace(org_id: UUID) -> str:
    """Where an org's export zips live in the object store."""
    return f"exports/{org_id}"


class ExportBuilder:
    """The worker side: build one export's zip, give up on one, and expire the old ones."""

    def __init__(self, db: Database, objects: ObjectStore, settings: Settings) -> None:
        self.db = db
        self.objects = objects
        self.settings = settings

    async def build(self, org_id: UUID, export_id: UUID) -> str:
        """Write the zip and mark the export ready; "skipped" when it is no longer pending (a re-run)."""
        async with self.db.transaction(org_id) as session:
            row = await session.get(DataExport, export_id)
            if row is None or row.status != "pending":
                return "skipped"
            subject = row.user_id
        # The subject as the current user too: their own row of users stays readable even if they have
        # since left the org (row-level security on users, migration 0001).
        async with self.db.transaction(org_id, subject) as session:
            data = await collect(session, subject)
        generated_at = datetime.now(UTC)
        transcripts = await transcript_lines(self.objects, data.interactions)
        archive = build_zip(data, transcripts, generated_at)
        stored = await self.objects.put(archive, namespace=namespace(org_id))
        done = datetime.now(UTC)
        async with self.db.transaction(org_id) as session:
            result = await session.execute(
                update(DataExport)
                .where(DataExport.id == export_id, DataExport.status == "pending")
                .values(
                    status="ready",
                    object_key=stored.key,
                    size_bytes=len(archive),
                    completed_at=done,
                    expires_at=done + timedelta(seconds=self.settings.export_link_ttl_seconds),
                    error=None,
                )
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            return "skipped"
        log.info("data_export_ready", export_id=str(export_id), size_bytes=len(archive))
        return "ready"

    async def fail(self, org_id: UUID, export_id: UUID, attempts: int, reason: str) -> None:
        """The build failed for good: the export says so (the page offers a new one) and the job is kept on
        the dead-letter list for admins."""
        async with self.db.transaction(org_id) as session:
            await session.execute(
                update(DataExport)
                .where(DataExport.id == export_id, DataExport.status == "pending")
                .values(status="failed", error=reason[:500], completed_at=datetime.now(UTC))
            )
            session.add(
                DeadLetter(
                    org_id=org_id,
                    job_key=data_export_job_key(export_id),
                    function="build_data_export",
                    attempts=attempts,
                    reason=reason[:4000],
                    payload={"export_id": str(export_id)},
                )
            )
        log.error("data_export_failed", export_id=str(export_id), error=reason)

    async def expire(self, now: datetime | None = None) -> int:
        """Every ready export past its expiry, in every org: its zip deleted, the row ``expired``."""
        now = now or datetime.now(UTC)
        async with self.db.transaction(None) as session:
            orgs = list(
                await session.scalars(text("select org_id from lyceum_data_export_expired_orgs(:now)"), {"now": now})
            )
        expired = 0
        for org_id in orgs:
            expired += await self._expire_org(org_id, now)
        return expired

    async def _expire_org(self, org_id: UUID, now: datetime) -> int:
        # Files go only after the commit that marks their rows expired: a rolled-back expiry must not leave a
        # "ready" export whose zip is gone (the erasure and retention purge delete after commit the same way).
        unshared: list[str] = []
        async with self.db.transaction(org_id) as session:
            rows = list(
                await session.scalars(
                    select(DataExport)
                    .where(DataExport.status == "ready", DataExport.expires_at <= now)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                key = row.object_key
                row.status = "expired"
                if key is None:
                    continue
                # Content-addressed: another live export with the very same bytes keeps the file.
                shared = await session.scalar(
                    select(func.count()).where(
                        DataExport.object_key == key, DataExport.status == "ready", DataExport.id != row.id
                    )
                )
                if not shared:
                    unshared.append(key)
        for key in unshared:
            await self.objects.delete(key)
        if rows:
            log.info("data_exports_expired", org_id=str(org_id), count=len(rows))
        return len(rows)
