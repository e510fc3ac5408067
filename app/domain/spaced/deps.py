"""Providers of the spaced-review service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.spaced.services import ReviewService
from app.lib.security.principal import Principal


def provide_review_service(tenant_db: TenantDatabase, principal: Principal, request_id: str) -> ReviewService:
    return ReviewService(tenant_db, principal, request_id)


spaced_dependencies = {"spaced_review_service": Provide(provide_review_service, sync_to_thread=False)}
