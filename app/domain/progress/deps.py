"""Providers of the progress services (dependency injection): each gets the caller's tenant-scoped database
and, where it reads course outlines, the catalogue's ``CourseService`` (and completing items, the job queue
for credentials); none gets the component bundle."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.courses.deps import course_dependencies
from app.domain.courses.services import CourseService
from app.domain.progress.enrollments import EnrollmentService
from app.domain.progress.overview import LearningService
from app.domain.progress.services import ProgressService
from app.lib.security.principal import Principal


def provide_progress_service(
    tenant_db: TenantDatabase,
    course_service: CourseService,
    components: Components,
    principal: Principal,
    request_id: str,
) -> ProgressService:
    return ProgressService(
        tenant_db,
        principal,
        request_id,
        courses=course_service,
        queue=components.queue,
        settings=components.settings,
    )


def provide_learning_service(
    tenant_db: TenantDatabase, course_service: CourseService, principal: Principal, request_id: str
) -> LearningService:
    return LearningService(tenant_db, principal, request_id, courses=course_service)


def provide_enrollment_service(tenant_db: TenantDatabase, principal: Principal, request_id: str) -> EnrollmentService:
    return EnrollmentService(tenant_db, principal, request_id)


progress_dependencies = {
    **course_dependencies,
    "progress_service": Provide(provide_progress_service, sync_to_thread=False),
}
learning_dependencies = {
    **course_dependencies,
    "learning_service": Provide(provide_learning_service, sync_to_thread=False),
}
enrollment_dependencies = {"enrollment_service": Provide(provide_enrollment_service, sync_to_thread=False)}
