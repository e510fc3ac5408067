from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.progress.overview import LearningService
from app.domain.progress.schemas import CompletionOut, CourseProgress, LearningOverview, PositionIn
from app.domain.progress.services import ProgressService
from app.lib.auth import is_member
from app.lib.idempotency import IDEMPOTENT
from app.lib.security.principal import Principal
from app.lib.throttle import RATE_LIMIT
from app.runtime import Runtime


class ProgressController(Controller):
    path = "/courses/{course_id:uuid}"
    tags = ["Progress"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/progress", summary="Your progress on a course: items done, unlocked and locked, and what is next")
    async def course_progress(self, course_id: UUID, runtime: Runtime, principal: Principal) -> CourseProgress:
        return await ProgressService(runtime, principal).course_progress(course_id)

    @post(
        "/items/{item_id:uuid}/completion",
        status_code=HTTP_201_CREATED,
        opt={IDEMPOTENT: True},
        summary="Mark a lesson or exercise done (again: 200 with the same result)",
        description="409 when you are not enrolled, the item is locked by unfinished prerequisites, or it is an "
        "assessment (those complete by passing).",
    )
    async def complete_item(
        self, course_id: UUID, item_id: UUID, runtime: Runtime, principal: Principal, request_id: str
    ) -> Response[CompletionOut]:
        result, created = await ProgressService(runtime, principal, request_id).complete_item(course_id, item_id)
        return Response(result, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @put(
        "/position",
        status_code=HTTP_204_NO_CONTENT,
        summary='Remember the item you have open, so "Continue" resumes there',
        description="409 when you are not enrolled; 404 for an item of another course.",
    )
    async def record_position(self, course_id: UUID, data: PositionIn, runtime: Runtime, principal: Principal) -> None:
        await LearningService(runtime, principal).record_position(course_id, data.item_id)


class LearningController(Controller):
    path = "/learning"
    tags = ["Progress"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/",
        summary="My learning: each course with where to resume, grades waiting for a person, recent grades",
    )
    async def overview(self, runtime: Runtime, principal: Principal) -> LearningOverview:
        return await LearningService(runtime, principal).overview()
