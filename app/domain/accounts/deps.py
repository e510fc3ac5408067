"""Providers of the accounts services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.accounts.services import AccountService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_account_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> AccountService:
    return AccountService(
        tenant_db,
        principal,
        request_id,
        denylist=components.denylist,
        notify_hook=components.settings.security_notify_hook,
    )


account_dependencies = {"account_service": Provide(provide_account_service, sync_to_thread=False)}
