"""Providers of the accounts services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.accounts.services import AccountService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_account_service(components: Components, principal: Principal, request_id: str) -> AccountService:
    return AccountService(components, principal, request_id)


account_dependencies = {"account_service": Provide(provide_account_service, sync_to_thread=False)}
