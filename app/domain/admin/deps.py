"""Providers of the admin services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.admin.services import AdminService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> AdminService:
    tutor = components.tutor
    return AdminService(
        tenant_db,
        principal,
        request_id,
        settings=components.settings,
        budget=tutor.budget,
        prompts=tutor.prompts,
        chats=tutor.chats,
    )


admin_dependencies = {"admin_service": Provide(provide_admin_service, sync_to_thread=False)}
