"""Providers of the single sign-on services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.auth.deps import provide_auth_service
from app.domain.components import Components
from app.domain.sso.admin import SsoAdminService
from app.domain.sso.handoff import HandoffService
from app.domain.sso.oidc import OidcService
from app.domain.sso.oidc_http import OidcMetadata
from app.lib.security.principal import Principal


def provide_oidc_service(components: Components, request_id: str) -> OidcService:
    return OidcService(
        components.db,
        components.redis,
        request_id,
        settings=components.settings,
        metadata=OidcMetadata(components.redis, components.settings),
    )


def provide_handoff_service(components: Components, request_id: str) -> HandoffService:
    return HandoffService(
        components.db,
        components.redis,
        settings=components.settings,
        auth=provide_auth_service(components, request_id),
        tokens=components.tokens,
    )


def provide_sso_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> SsoAdminService:
    return SsoAdminService(
        tenant_db,
        principal,
        request_id,
        settings=components.settings,
        metadata=OidcMetadata(components.redis, components.settings),
    )


oidc_dependencies = {"oidc_service": Provide(provide_oidc_service, sync_to_thread=False)}
handoff_dependencies = {"handoff_service": Provide(provide_handoff_service, sync_to_thread=False)}
sso_admin_dependencies = {"sso_admin_service": Provide(provide_sso_admin_service, sync_to_thread=False)}
