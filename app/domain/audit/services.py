from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import TenantDatabase
from app.db.models import AuditLogEntry
from app.lib.pagination import fetch_page


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


class AuditService:
    def __init__(self, db: TenantDatabase) -> None:
        self.db = db

    async def list_entries(self, page: LimitOffset, action: str | None) -> OffsetPagination[AuditLogEntry]:
        query = select(AuditLogEntry)
        if action:
            query = query.where(AuditLogEntry.action == action)
        async with self.db.transaction() as session:
            ordered = query.order_by(AuditLogEntry.created_at.desc(), AuditLogEntry.id)
            return (await fetch_page(session, ordered, page))[1]
