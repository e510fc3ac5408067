"""Providers of the courses services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.components import Components
from app.domain.courses.services import CourseService
from app.lib.security.principal import Principal


def provide_course_service(components: Components, principal: Principal, request_id: str) -> CourseService:
    return CourseService(components, principal, request_id)


course_dependencies = {"course_service": Provide(provide_course_service, sync_to_thread=False)}
