from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get
from litestar.params import Parameter

from app.domain.courses.deps import course_dependencies
from app.domain.courses.schemas import CourseDetail, CourseSummary, ItemDetail
from app.domain.courses.services import CourseService
from app.lib.auth import is_member
from app.lib.pagination import Page
from app.lib.throttle import RATE_LIMIT


class CourseController(Controller):
    dependencies = course_dependencies
    path = "/courses"
    tags = ["Courses"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/", summary="Course catalogue of the current org")
    async def list_courses(
        self,
        request: Request[Any, Any, Any],
        course_service: CourseService,
        page: LimitOffset,
        q: Annotated[str | None, Parameter(query="q", max_length=200, description="Search title/summary")] = None,
    ) -> Page[CourseSummary]:
        return Page.of(await course_service.list_published(page, q), request)

    @get("/{course_id:uuid}", summary="A course with its modules, items and pathway edges")
    async def get_course(self, course_id: UUID, course_service: CourseService) -> CourseDetail:
        return await course_service.detail(course_id)

    @get("/{course_id:uuid}/items/{item_id:uuid}", summary="One item with its lesson text")
    async def get_item(self, course_id: UUID, item_id: UUID, course_service: CourseService) -> ItemDetail:
        return await course_service.item(course_id, item_id)
