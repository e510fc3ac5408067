"""Providers of the alert service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.alerts.services import AlertService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_alert_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> AlertService:
    return AlertService(tenant_db, principal, request_id, settings=components.settings)


alert_dependencies = {"alert_service": Provide(provide_alert_service, sync_to_thread=False)}
