from __future__ import annotations

from typing import Annotated, Any

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get
from litestar.params import Parameter

from app.domain.audit.deps import audit_dependencies
from app.domain.audit.schemas import AuditEntry
from app.domain.audit.services import AuditService
from app.lib.auth import is_admin
from app.lib.pagination import Page, paginated


class AuditController(Controller):
    dependencies = audit_dependencies
    path = "/audit-log"
    tags = ["Audit"]
    guards = [is_admin]

    @get("/", summary="Audit log of the current org (admins)")
    async def list_entries(
        self,
        request: Request[Any, Any, Any],
        audit_service: AuditService,
        page: LimitOffset,
        action: Annotated[str | None, Parameter(query="action", max_length=100)] = None,
    ) -> Page[AuditEntry]:
        result = await audit_service.list_entries(page, action)
        items = [
            AuditEntry(
                id=r.id,
                actor_id=r.actor_id,
                action=r.action,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                before=r.before,
                after=r.after,
                request_id=r.request_id,
                created_at=r.created_at,
            )
            for r in result.items
        ]
        return Page.of(paginated(items, result), request)
