"""Providers of the authoring service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.authoring.preview_tutor import PreviewTutor
from app.domain.authoring.services import AuthoringService
from app.domain.components import Components
from app.lib.security.principal import Principal


def provide_authoring_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> AuthoringService:
    return AuthoringService(
        tenant_db,
        principal,
        request_id,
        settings=components.settings,
        queue=components.queue,
        cache=components.limiter_redis,
    )


def provide_preview_tutor(tenant_db: TenantDatabase, components: Components) -> PreviewTutor:
    return PreviewTutor(db=tenant_db, settings=components.settings, tutor=components.tutor, limiter=components.limiter)


authoring_dependencies = {
    "authoring_service": Provide(provide_authoring_service, sync_to_thread=False),
    "preview_tutor": Provide(provide_preview_tutor, sync_to_thread=False),
}
