"""Providers of the admin services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.admin.services import AdminService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_admin_service(components: Components, principal: Principal, request_id: str) -> AdminService:
    return AdminService(components, principal, request_id)


admin_dependencies = {"admin_service": Provide(provide_admin_service, sync_to_thread=False)}
