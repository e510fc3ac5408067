"""Dependencies shared by every domain: the caller, the request id and the page. The process-wide
``components`` dependency is provided by the server (app/server/components.py); each domain's ``deps.py``
turns it into the services its handlers receive."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.lib.pagination import provide_page_request
from app.lib.security.principal import Principal


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.user
    return principal


def provide_tenant_db(components: Components, principal: Principal) -> TenantDatabase:
    """The session provider: the database bound to the caller's org and user, so every transaction
    opened through it carries their tenant for row-level security."""
    return components.db.for_tenant(principal.org_id, principal.user_id)


def provide_request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


common_dependencies = {
    "principal": Provide(provide_principal, sync_to_thread=False),
    "tenant_db": Provide(provide_tenant_db, sync_to_thread=False),
    "request_id": Provide(provide_request_id, sync_to_thread=False),
    "page": Provide(provide_page_request, sync_to_thread=False),
}
