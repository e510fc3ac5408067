"""Providers of the search service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.search.services import SearchService
from app.lib.security.principal import Principal


def provide_search_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> SearchService:
    return SearchService(
        tenant_db,
        principal,
        request_id,
        vectors=components.search.vectors,
        candidates=components.settings.search_candidates,
    )


search_dependencies = {"search_service": Provide(provide_search_service, sync_to_thread=False)}
