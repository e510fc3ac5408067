"""Providers of the SAML services: the sign-in (public) and the org admin's connection (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.sso.saml import SamlSignInService
from app.domain.sso.saml_admin import SamlAdminService
from app.lib.security.principal import Principal


def provide_saml_sign_in_service(components: Components, request_id: str) -> SamlSignInService:
    return SamlSignInService(components.db, components.redis, request_id, settings=components.settings)


def provide_saml_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> SamlAdminService:
    # The LTI platform client: SSRF-guarded, no redirects, bounded size and time (fetching IdP metadata).
    return SamlAdminService(tenant_db, principal, request_id, settings=components.settings, http=components.lti_http)


saml_sign_in_dependencies = {"saml_sign_in_service": Provide(provide_saml_sign_in_service, sync_to_thread=False)}
saml_admin_dependencies = {"saml_admin_service": Provide(provide_saml_admin_service, sync_to_thread=False)}
