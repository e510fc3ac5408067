"""Providers of the audit services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.audit.services import AuditService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_audit_service(components: Components, principal: Principal) -> AuditService:
    return AuditService(components.db, principal)


audit_dependencies = {"audit_service": Provide(provide_audit_service, sync_to_thread=False)}
