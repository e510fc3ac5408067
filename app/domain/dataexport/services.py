"""Personal-data exports (issue 18 item 5): asking for one, building it in the worker, downloading it, and
expiring it.

The ``data_exports`` row is the state: ``pending`` until the worker's ``build_data_export`` job has written
the zip, then ``ready`` with an expiry (``failed`` if the job gave up), ``expired`` once the
``expire_data_exports`` cron has deleted the zip. A learner's page simply polls ``GET /v1/me/export``: the
first poll asks for an export, later ones see it pending, then ready with a signed download link.

This module is the request side (a TenantService-like service bound to the caller's org); the worker side is
``builder.py``, the public download ``download.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import DataExport, Membership
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.dataexport.links import sign_link
from app.domain.dataexport.schemas import DataExportOut
from app.lib.errors import NotFound, RateLimited
from app.lib.jobs import data_export_job_key

log = structlog.get_logger("lyceum.dataexport")

EXPORT_RETRIES = 3  # attempts of a build before it is dead-lettered and the export marked failed
EXPORT_TIMEOUT_SECONDS = 600
RATE_WINDOW = timedelta(hours=24)
POLL_AFTER_SECONDS = 2  # Retry-After of a pending export


async def enqueue_build(queue: Queue, org_id: UUID, export_id: UUID) -> bool:
    """Queue the build; False when no new job was queued (one with this export's key is queued or running,
    or Redis is down). A pending export whose job was lost is queued again by the next poll of its page."""
    try:
        job = await queue.enqueue(
            "build_data_export",
            key=data_export_job_key(export_id),
            export_id=str(export_id),
            org_id=str(org_id),
            retries=EXPORT_RETRIES,
            retry_delay=1.0,
            retry_backoff=30.0,
            timeout=EXPORT_TIMEOUT_SECONDS,
        )
    except (RedisError, OSError) as exc:
        log.warning("data_export_enqueue_failed", export_id=str(export_id), error=str(exc))
        return False
    return job is not None


@dataclass(frozen=True, slots=True)
class ExportState:
    """What a route answers: the export, and whether it is ready (200) or still to poll (202)."""

    export: DataExportOut
    ready: bool


@dataclass(eq=False, repr=False, kw_only=True)
class DataExportService(TenantService):
    """The request side: a member's own export, or an admin's export of one member of their org.
    ``settings``: the link's signing key and the daily limit; ``queue``: where builds are queued."""

    settings: Settings
    queue: Queue

    async def current(self, subject_id: UUID | None = None, *, fresh: bool = False) -> ExportState:
        """The latest export of the subject (the caller by default) when it is pending or ready; otherwise
        (none, failed, expired, or ``fresh``) a new one is asked for, within the daily limit."""
        subject = subject_id or self.principal.user_id
        now = datetime.now(UTC)
        async with self._tx() as session:
            if subject_id is not None and not await self._is_member(session, subject):
                raise NotFound("No such member in this organization")
            # One request at a time per person: two tabs polling at once must not start two exports.
            await session.execute(
                text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"lyceum:data_export:{self.db.org_id}:{subject}"},
            )
            latest = await session.scalar(
                select(DataExport)
                .where(DataExport.user_id == subject)
                .order_by(DataExport.created_at.desc(), DataExport.id.desc())
                .limit(1)
            )
            if latest is not None and latest.status == "pending":
                created = False
            elif latest is not None and not fresh and self._downloadable(latest, now):
                return ExportState(self._out(latest), ready=True)
            else:
                await self._check_limit(session, subject, now)
                latest = DataExport(org_id=self.db.org_id, user_id=subject, requested_by=self.principal.user_id)
                session.add(latest)
                await session.flush()
                record_audit(
                    session,
                    org_id=self.db.org_id,
                    actor_id=self.principal.user_id,
                    action="data_export.requested",
                    entity_type="data_export",
                    entity_id=latest.id,
                    after={"subject_id": str(subject), "status": "pending"},
                    request_id=self.request_id,
                )
                created = True
            out = self._out(latest)
        # After the commit, so the job never looks for a row not yet visible. A pending export is queued
        # again on every poll: the job key refuses a duplicate, and a job Redis lost is replaced.
        await enqueue_build(self.queue, self.db.org_id, out.id)
        if created:
            log.info("data_export_requested", export_id=str(out.id), subject_id=str(subject))
        return ExportState(out, ready=False)

    @staticmethod
    async def _is_member(session: AsyncSession, user_id: UUID) -> bool:
        found = await session.scalar(select(Membership.id).where(Membership.user_id == user_id).limit(1))
        return found is not None

    async def _check_limit(self, session: AsyncSession, subject: UUID, now: datetime) -> None:
        since = now - RATE_WINDOW
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(DataExport.created_at)).where(
                    DataExport.user_id == subject, DataExport.created_at > since
                )
            )
        ).one()
        limit = self.settings.export_max_per_day
        if count >= limit:
            wait = max(1, math.ceil(((oldest + RATE_WINDOW) - now).total_seconds())) if oldest else 60
            raise RateLimited(
                f"At most {limit} data exports a day: you can ask for a new one in {_human(wait)}. "
                "The last one you asked for stays downloadable until it expires.",
                headers={"Retry-After": str(wait)},
            )

    @staticmethod
    def _downloadable(row: DataExport, now: datetime) -> bool:
        return row.status == "ready" and row.expires_at is not None and row.expires_at > now

    def _out(self, row: DataExport) -> DataExportOut:
        url = None
        if row.status == "ready" and row.expires_at is not None:
            token = sign_link(
                self.settings.secret_key.value, row.id, row.org_id, math.floor(row.expires_at.timestamp())
            )
            url = f"/v1/exports/{token}"
        return DataExportOut(
            id=row.id,
            status=row.status,
            requested_at=row.created_at,
            completed_at=row.completed_at,
            expires_at=row.expires_at,
            size_bytes=row.size_bytes,
            download_url=url,
        )


def _human(seconds: int) -> str:
    if seconds >= 3600:
        hours = math.ceil(seconds / 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
