"""Providers of the LTI administration services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.lti.dynamic import DynamicRegistrationService
from app.domain.lti.jwks import ToolKeySetService
from app.domain.lti.registrations import RegistrationAdminService
from app.lib.security.principal import Principal


def provide_registration_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> RegistrationAdminService:
    return RegistrationAdminService(
        tenant_db, principal, request_id, settings=components.settings, redis=components.redis
    )


def provide_dynamic_registration_service(components: Components, request_id: str) -> DynamicRegistrationService:
    return DynamicRegistrationService(
        db=components.db,
        settings=components.settings,
        redis=components.redis,
        http=components.lti_http,
        request_id=request_id,
    )


def provide_tool_key_set_service(components: Components) -> ToolKeySetService:
    return ToolKeySetService(db=components.db, settings=components.settings)


registration_admin_dependencies = {
    "registration_admin_service": Provide(provide_registration_admin_service, sync_to_thread=False)
}
dynamic_registration_dependencies = {
    "dynamic_registration_service": Provide(provide_dynamic_registration_service, sync_to_thread=False)
}
tool_key_set_dependencies = {"tool_key_set_service": Provide(provide_tool_key_set_service, sync_to_thread=False)}
