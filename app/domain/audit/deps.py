"""Providers of the audit services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.audit.services import AuditService


def provide_audit_service(tenant_db: TenantDatabase) -> AuditService:
    return AuditService(tenant_db)


audit_dependencies = {"audit_service": Provide(provide_audit_service, sync_to_thread=False)}
