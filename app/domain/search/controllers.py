from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get
from litestar.params import Parameter

from app.domain.search.deps import search_dependencies
from app.domain.search.schemas import SearchHit
from app.domain.search.services import MAX_QUERY_CHARS, SearchService
from app.lib.auth import is_member
from app.lib.pagination import Page
from app.lib.throttle import RATE_LIMIT


class SearchController(Controller):
    dependencies = search_dependencies
    path = "/search"
    tags = ["Search"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/", summary="Search the content of the caller's enrolled courses (hybrid: meaning and words)")
    async def search(
        self,
        request: Request[Any, Any, Any],
        search_service: SearchService,
        page: LimitOffset,
        q: Annotated[
            str | None, Parameter(query="q", max_length=MAX_QUERY_CHARS, description="What to look for")
        ] = None,
        course_id: Annotated[
            UUID | None, Parameter(query="course_id", description="Only this course (one you are enrolled in)")
        ] = None,
    ) -> Page[SearchHit]:
        return Page.of(await search_service.search(q, course_id, page), request)
