"""The common shape of a domain service acting for one signed-in person."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import TenantDatabase
from app.lib.security.principal import Principal


@dataclass(eq=False, repr=False)
class TenantService:
    """Holds the caller and their tenant-scoped database only (the ``tenant_db`` provider's): every
    transaction it opens carries the caller's org and user, so PostgreSQL's row-level security scopes every
    statement to their tenant. Services that need more take those clients by name, not the bundle: a
    subclass is a ``@dataclass(eq=False, repr=False, kw_only=True)`` declaring them as fields, so its
    constructor is ``(db, principal, request_id="", *, <its clients>)``."""

    db: TenantDatabase
    principal: Principal
    request_id: str = ""

    def _tx(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction()
