"""The common shape of a domain service acting for one signed-in person."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import TenantDatabase
from app.lib.security.principal import Principal


class TenantService:
    """Holds the caller and their tenant-scoped database only (the ``tenant_db`` provider's): every
    transaction it opens carries the caller's org and user, so PostgreSQL's row-level security scopes every
    statement to their tenant. Services that need more take those clients by name, not the bundle."""

    def __init__(self, db: TenantDatabase, principal: Principal, request_id: str = "") -> None:
        self.db = db
        self.principal = principal
        self.request_id = request_id

    def _tx(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction()
