from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED

from app.domain.spaced.deps import spaced_dependencies
from app.domain.spaced.schemas import ReviewAnswerIn, ReviewAnswerOut, ReviewDue, ReviewSummary
from app.domain.spaced.services import ReviewService
from app.lib.auth import is_member
from app.lib.idempotency import IDEMPOTENT
from app.lib.pagination import Page


class SpacedReviewController(Controller):
    """The caller's own spaced review (issue 12 §7): what is due, answering, the workload."""

    dependencies = spaced_dependencies
    path = "/me/reviews"
    tags = ["Spaced review"]
    guards = [is_member]

    @get("/due", summary="Your review questions due now (oldest first), one per competency, without answers")
    async def due(
        self, request: Request[Any, Any, Any], spaced_review_service: ReviewService, page: LimitOffset
    ) -> Page[ReviewDue]:
        return Page.of(await spaced_review_service.due(page), request)

    @get("/summary", summary="How many reviews are due now, the next due time and today's planned count")
    async def summary(self, spaced_review_service: ReviewService) -> ReviewSummary:
        return await spaced_review_service.summary()

    @post(
        "/{card_id:uuid}/answers",
        status_code=HTTP_201_CREATED,
        opt={IDEMPOTENT: True},
        summary="Answer a review question: records the rating and reschedules the card (Idempotency-Key honoured)",
    )
    async def answer(
        self,
        card_id: UUID,
        data: ReviewAnswerIn,
        spaced_review_service: ReviewService,
        idempotency_key: Annotated[
            str | None,
            Parameter(
                header="Idempotency-Key",
                required=False,
                max_length=255,
                description="Replays with the same key return the first answer's outcome",
            ),
        ] = None,
    ) -> ReviewAnswerOut:
        return await spaced_review_service.answer(card_id, data, idempotency_key)
