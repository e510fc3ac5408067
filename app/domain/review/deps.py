"""Providers of the review services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.review.services import ReviewService
from app.lib.security.principal import Principal


def provide_review_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> ReviewService:
    return ReviewService(
        tenant_db,
        principal,
        request_id,
        events=components.events,
        lease_seconds=components.settings.review_lease_seconds,
        jobs=components.queue,
        settings=components.settings,
    )


review_dependencies = {"review_service": Provide(provide_review_service, sync_to_thread=False)}
