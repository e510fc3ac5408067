from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import TenantDatabase
from app.db.models import AuditLogEntry
from app.db.repositories import Repository, RepositoryService
from app.domain.audit.schemas import AuditEntry
from app.lib.security.principal import Principal


def record_audit(
    session: AsyncSession,
    *,
    org_id: UUID,
    actor_id: UUID | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str = "",
) -> None:
    """Add an audit entry to the caller's transaction, so it commits or rolls back with the change itself."""
    session.add(
        AuditLogEntry(
            org_id=org_id,
            actor_id=actor_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
            request_id=request_id,
        )
    )


def record_audit_by(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request_id: str = "",
) -> None:
    """``record_audit`` for what the signed-in ``principal`` did: the entry is in their org, with them as the actor."""
    record_audit(
        session,
        org_id=principal.org_id,
        actor_id=principal.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        request_id=request_id,
    )


class AuditLogRepository(Repository[AuditLogEntry]):
    model_type = AuditLogEntry


class AuditLogEntries(RepositoryService[AuditLogEntry, AuditLogRepository]):
    """Reads of the audit log (append-only: entries are written by ``record_audit`` in the change's own
    transaction)."""

    repository_type = AuditLogRepository


_NEWEST_FIRST: list[Any] = [(AuditLogEntry.created_at, True), (AuditLogEntry.id, False)]


class AuditService:
    def __init__(self, db: TenantDatabase) -> None:
        self.db = db

    async def list_entries(self, page: LimitOffset, action: str | None) -> OffsetPagination[AuditEntry]:
        filters: list[Any] = [page]
        if action:
            filters.append(AuditLogEntry.action == action)
        async with self.db.transaction() as session:
            entries = AuditLogEntries(session=session)
            rows, total = await entries.list_and_count(*filters, order_by=_NEWEST_FIRST)
            return entries.to_schema(rows, total, filters=filters, schema_type=AuditEntry)
