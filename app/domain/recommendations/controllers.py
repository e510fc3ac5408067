from __future__ import annotations

from uuid import UUID

from litestar import Controller, get

from app.domain.recommendations.deps import recommendation_dependencies
from app.domain.recommendations.schemas import NextItems, RelatedItems
from app.domain.recommendations.services import RecommendationService
from app.lib.auth import is_member
from app.lib.throttle import RATE_LIMIT


class RecommendationController(Controller):
    dependencies = recommendation_dependencies
    tags = ["Recommendations"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/courses/{course_id:uuid}/next",
        summary="Up to three recommended next steps in a course you are enrolled in, each with a reason",
        description="Reasons come from the pathway (next unlocked items), your recent tutor questions, and "
        "(once wired) mastery and due reviews. Locked items are never recommended. An empty list: nothing "
        "left to do. 404 for an unknown course or one you are not enrolled in.",
    )
    async def next_steps(self, course_id: UUID, recommendation_service: RecommendationService) -> NextItems:
        return await recommendation_service.next_steps(course_id)

    @get(
        "/items/{item_id:uuid}/related",
        summary="Items related by meaning to an item, across the courses you are enrolled in",
        description="404 for an unknown item or one in a course you are not enrolled in.",
    )
    async def related(self, item_id: UUID, recommendation_service: RecommendationService) -> RelatedItems:
        return await recommendation_service.related(item_id)
