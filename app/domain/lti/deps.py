"""Providers of the LTI services: the launch and the Deep Linking picker's API (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.auth.deps import provide_auth_service
from app.domain.components import Components
from app.domain.lti.contexts import LtiContextService
from app.domain.lti.deep_linking import DeepLinkingService
from app.domain.lti.launch import LaunchService
from app.domain.lti.platform_keys import PlatformKeys
from app.lib.security.principal import Principal


def provide_launch_service(components: Components, request_id: str) -> LaunchService:
    return LaunchService(
        components.db,
        components.redis,
        request_id,
        settings=components.settings,
        keys=PlatformKeys(components.redis, components.lti_http, components.settings),
        auth=provide_auth_service(components, request_id),
    )


launch_dependencies = {"launch_service": Provide(provide_launch_service, sync_to_thread=False)}


# Deep Linking (the picker's API)
def provide_deep_linking_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> DeepLinkingService:
    return DeepLinkingService(
        tenant_db, principal, request_id, settings=components.settings, redis=components.redis, root_db=components.db
    )


deep_linking_dependencies = {"deep_linking_service": Provide(provide_deep_linking_service, sync_to_thread=False)}


# Linked LMS contexts and roster sync (AGS/NRPS)
def provide_lti_context_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> LtiContextService:
    return LtiContextService(tenant_db, principal, request_id, queue=components.queue, settings=components.settings)


lti_context_dependencies = {"lti_context_service": Provide(provide_lti_context_service, sync_to_thread=False)}
