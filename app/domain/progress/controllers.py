from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.courses.schemas import EnrollmentOut
from app.domain.progress.deps import enrollment_dependencies, learning_dependencies, progress_dependencies
from app.domain.progress.enrollments import EnrollmentService
from app.domain.progress.overview import LearningService
from app.domain.progress.schemas import CompletionOut, CourseProgress, LearningOverview, PositionIn
from app.domain.progress.services import ProgressService
from app.lib.auth import is_member
from app.lib.idempotency import IDEMPOTENT
from app.lib.pagination import Page
from app.lib.throttle import RATE_LIMIT


class ProgressController(Controller):
    dependencies = {**progress_dependencies, **learning_dependencies}
    path = "/courses/{course_id:uuid}"
    tags = ["Progress"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/progress", summary="Your progress on a course: items done, unlocked and locked, and what is next")
    async def course_progress(self, course_id: UUID, progress_service: ProgressService) -> CourseProgress:
        return await progress_service.course_progress(course_id)

    @post(
        "/items/{item_id:uuid}/completion",
        status_code=HTTP_201_CREATED,
        opt={IDEMPOTENT: True},
        summary="Mark a lesson or exercise done (again: 200 with the same result)",
        description="409 when you are not enrolled, the item is locked by unfinished prerequisites, or it is an "
        "assessment (those complete by passing).",
    )
    async def complete_item(
        self, course_id: UUID, item_id: UUID, progress_service: ProgressService
    ) -> Response[CompletionOut]:
        result, created = await progress_service.complete_item(course_id, item_id)
        return Response(result, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @put(
        "/position",
        status_code=HTTP_204_NO_CONTENT,
        summary='Remember the item you have open, so "Continue" resumes there',
        description="409 when you are not enrolled; 404 for an item of another course.",
    )
    async def record_position(self, course_id: UUID, data: PositionIn, learning_service: LearningService) -> None:
        await learning_service.record_position(course_id, data.item_id)


class LearningController(Controller):
    dependencies = {**progress_dependencies, **learning_dependencies}
    path = "/learning"
    tags = ["Progress"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/",
        summary="My learning: each course with where to resume, grades waiting for a person, recent grades",
    )
    async def overview(self, learning_service: LearningService) -> LearningOverview:
        return await learning_service.overview()


class CourseEnrollmentController(Controller):
    """Enrolling, listed with the catalogue (tag "Courses"): it opens the learner's progress stream."""

    dependencies = enrollment_dependencies
    path = "/courses"
    tags = ["Courses"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @post(
        "/{course_id:uuid}/enrollments",
        status_code=HTTP_201_CREATED,
        opt={IDEMPOTENT: True},
        summary="Enroll in a course (idempotent: again returns the same enrollment with 200)",
    )
    async def enroll(self, course_id: UUID, enrollment_service: EnrollmentService) -> Response[EnrollmentOut]:
        enrollment, created = await enrollment_service.enroll(course_id)
        return Response(enrollment, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


class EnrollmentController(Controller):
    dependencies = enrollment_dependencies
    path = "/enrollments"
    tags = ["Courses"]
    guards = [is_member]

    @get("/", summary="The caller's enrollments")
    async def list_enrollments(
        self, request: Request[Any, Any, Any], enrollment_service: EnrollmentService, page: LimitOffset
    ) -> Page[EnrollmentOut]:
        return Page.of(await enrollment_service.my_enrollments(page), request)
