"""Providers of the webhook administration service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.webhooks.admin import WebhookAdminService
from app.lib.security.principal import Principal


def provide_webhook_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> WebhookAdminService:
    return WebhookAdminService(tenant_db, principal, request_id, settings=components.settings, queue=components.queue)


webhook_admin_dependencies = {"webhook_admin_service": Provide(provide_webhook_admin_service, sync_to_thread=False)}
