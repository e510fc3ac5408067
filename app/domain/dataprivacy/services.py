"""The org admin's retention setting (``GET/PUT /v1/admin/retention``)."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.models import Organization
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.dataprivacy.schemas import RetentionSettings
from app.lib.errors import NotFound


@dataclass(eq=False, repr=False)
class RetentionService(TenantService):
    async def get(self) -> RetentionSettings:
        async with self._tx() as session:
            org = await session.get(Organization, self.principal.org_id)
            if org is None:
                raise NotFound("Your organization no longer exists")
            return RetentionSettings(transcript_retention_days=org.transcript_retention_days)

    async def set(self, wanted: RetentionSettings) -> RetentionSettings:
        async with self._tx() as session:
            org = await session.get(Organization, self.principal.org_id, with_for_update=True)
            if org is None:
                raise NotFound("Your organization no longer exists")
            before = {"transcript_retention_days": org.transcript_retention_days}
            org.transcript_retention_days = wanted.transcript_retention_days
            record_audit_by(
                session,
                self.principal,
                action="org.retention_updated",
                entity_type="organization",
                entity_id=org.id,
                before=before,
                after={"transcript_retention_days": wanted.transcript_retention_days},
                request_id=self.request_id,
            )
            return RetentionSettings(transcript_retention_days=org.transcript_retention_days)
