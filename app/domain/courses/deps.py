"""Providers of the courses services (dependency injection)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from app.domain.components import Components
from app.domain.courses.services import CourseService
from app.lib.security.principal import Principal


def provide_course_service(components: Components, request: Request[Any, Any, Any]) -> CourseService:
    """The outline cache is read and filled through the fail-fast Redis client.

    Built from ``components`` and the request alone, not from the shared ``principal``/``tenant_db``/
    ``request_id`` providers: Litestar resolves dependencies of the same depth concurrently in an anyio task
    group (three tasks per request here), which cost ~7 % of a cached ``GET /v1/courses/{id}`` (issue 15)."""
    principal: Principal = request.user
    return CourseService(
        components.db.for_tenant(principal.org_id, principal.user_id),
        principal,
        str(request.scope.get("state", {}).get("request_id", "")),
        cache=components.limiter_redis,
        settings=components.settings,
    )


course_dependencies = {"course_service": Provide(provide_course_service, sync_to_thread=False)}
