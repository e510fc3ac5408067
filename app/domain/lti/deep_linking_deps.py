"""Providers of the Deep Linking service (dependency injection; beside the launch's deps.py)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.lti.deep_linking import DeepLinkingService
from app.lib.security.principal import Principal


def provide_deep_linking_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> DeepLinkingService:
    return DeepLinkingService(
        tenant_db, principal, request_id, settings=components.settings, redis=components.redis, root_db=components.db
    )


deep_linking_dependencies = {"deep_linking_service": Provide(provide_deep_linking_service, sync_to_thread=False)}
