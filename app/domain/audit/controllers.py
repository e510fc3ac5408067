from __future__ import annotations

from typing import Annotated, Any

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get
from litestar.params import Parameter

from app.domain.audit.deps import audit_dependencies
from app.domain.audit.schemas import AuditEntry
from app.domain.audit.services import AuditService
from app.lib.auth import is_admin
from app.lib.pagination import Page


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
        return Page.of(await audit_service.list_entries(page, action), request)
