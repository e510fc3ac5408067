"""Providers of the data-rights services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.dataprivacy.erasure import ErasureService
from app.domain.dataprivacy.services import RetentionService
from app.lib.security.principal import Principal


def provide_retention_service(tenant_db: TenantDatabase, principal: Principal, request_id: str) -> RetentionService:
    return RetentionService(tenant_db, principal, request_id)


def provide_erasure_service(components: Components, request_id: str) -> ErasureService:
    return ErasureService(
        db=components.db,
        settings=components.settings,
        objects=components.tutor.objects,
        denylist=components.denylist,
        limiter=components.limiter,
        request_id=request_id,
    )


dataprivacy_dependencies = {
    "retention_service": Provide(provide_retention_service, sync_to_thread=False),
    "erasure_service": Provide(provide_erasure_service, sync_to_thread=False),
}
