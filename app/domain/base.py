"""The common shape of a domain service acting for one signed-in person."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.components import Components
from app.lib.security.principal import Principal


class PrincipalService:
    """Holds the runtime and the caller; every transaction it opens carries the caller's org and user,
    so PostgreSQL's row-level security scopes every statement to their tenant."""

    def __init__(self, runtime: Components, principal: Principal, request_id: str = "") -> None:
        self.runtime = runtime
        self.db = runtime.db.for_tenant(principal.org_id, principal.user_id)  # RLS scope set from the principal
        self.principal = principal
        self.request_id = request_id

    def _tx(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction()
