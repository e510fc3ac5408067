"""Providers of the AI observability service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.insights.services import InsightsService
from app.lib.security.principal import Principal


def provide_insights_service(tenant_db: TenantDatabase, principal: Principal, request_id: str) -> InsightsService:
    return InsightsService(tenant_db, principal, request_id)


insights_dependencies = {"insights_service": Provide(provide_insights_service, sync_to_thread=False)}
