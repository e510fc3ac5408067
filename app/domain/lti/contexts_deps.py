"""Providers of the LTI context services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.lti.contexts import LtiContextService
from app.lib.security.principal import Principal


def provide_lti_context_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> LtiContextService:
    return LtiContextService(tenant_db, principal, request_id, queue=components.queue, settings=components.settings)


lti_context_dependencies = {"lti_context_service": Provide(provide_lti_context_service, sync_to_thread=False)}
