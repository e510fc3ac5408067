"""Provider of the mastery service (dependency injection): the caller's tenant-scoped database only."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.mastery.services import MasteryService
from app.lib.security.principal import Principal


def provide_mastery_service(tenant_db: TenantDatabase, principal: Principal, request_id: str) -> MasteryService:
    return MasteryService(tenant_db, principal, request_id)


mastery_dependencies = {"mastery_service": Provide(provide_mastery_service, sync_to_thread=False)}
