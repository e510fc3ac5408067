from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from app.domain.review.deps import review_dependencies
from app.domain.review.schemas import DecisionIn, ReviewDetail, ReviewItemOut, ReviewMetrics
from app.domain.review.services import ReviewService
from app.lib.auth import is_staff
from app.lib.pagination import Page
from app.lib.throttle import RATE_LIMIT

Reason = Literal["low_confidence", "sample", "disagreement", "grader_error"]


class ReviewQueueController(Controller):
    dependencies = review_dependencies
    path = "/review"
    tags = ["Review"]
    guards = [is_staff]
    opt = {RATE_LIMIT: "api"}

    @get("/queue", summary="Submissions waiting for a person, most urgent first (priority, then SLA deadline)")
    async def queue(
        self,
        request: Request[Any, Any, Any],
        review_service: ReviewService,
        page: LimitOffset,
        status: Annotated[Literal["open", "decided"], Parameter(query="status")] = "open",
        reason: Annotated[Reason | None, Parameter(query="reason")] = None,
        course_id: Annotated[UUID | None, Parameter(query="course_id")] = None,
        assessment_id: Annotated[UUID | None, Parameter(query="assessment_id")] = None,
    ) -> Page[ReviewItemOut]:
        result = await review_service.queue(page, status, reason, course_id, assessment_id)
        return Page.of(result, request)

    @get("/items/{item_id:uuid}", summary="One review item: answer, rubric and the AI's rationale side by side")
    async def item(self, item_id: UUID, review_service: ReviewService) -> ReviewDetail:
        return await review_service.detail(item_id)

    @get("/submissions/{submission_id:uuid}", summary="The review item of a submission")
    async def by_submission(self, submission_id: UUID, review_service: ReviewService) -> ReviewDetail:
        return await review_service.for_submission(submission_id)

    @post("/items/{item_id:uuid}/claim", status_code=HTTP_200_OK, summary="Claim an item (a lease that expires)")
    async def claim(self, item_id: UUID, review_service: ReviewService) -> ReviewItemOut:
        return await review_service.claim(item_id)

    @post(
        "/items/{item_id:uuid}/decision",
        status_code=HTTP_200_OK,
        summary="Accept the AI grade, or override score and feedback with a reason (you must hold the claim)",
    )
    async def decide(self, item_id: UUID, data: DecisionIn, review_service: ReviewService) -> ReviewItemOut:
        return await review_service.decide(item_id, data)

    @get("/metrics", summary="Queue depth, SLA breaches, time to review, escalation rate, AI-human agreement")
    async def metrics(self, review_service: ReviewService) -> ReviewMetrics:
        return await review_service.metrics()

    @get(
        "/corrections.jsonl",
        summary="Human corrections of AI grades as JSON lines, for prompt tuning",
        media_type="application/jsonl",
    )
    async def corrections(self, review_service: ReviewService) -> Response[Any]:
        return Stream(
            review_service.corrections(),
            media_type="application/jsonl",
            headers={"Content-Disposition": 'attachment; filename="corrections.jsonl"'},
        )
