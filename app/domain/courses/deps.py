"""Providers of the courses services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.courses.services import CourseService
from app.lib.security.principal import Principal


def provide_course_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> CourseService:
    """The outline cache is read and filled through the fail-fast Redis client."""
    return CourseService(tenant_db, principal, request_id, cache=components.limiter_redis, settings=components.settings)


course_dependencies = {"course_service": Provide(provide_course_service, sync_to_thread=False)}
