from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import Parameter

from app.domain.mastery.deps import mastery_dependencies
from app.domain.mastery.schemas import MasteryOut
from app.domain.mastery.services import MasteryService
from app.lib.auth import is_member
from app.lib.throttle import RATE_LIMIT


class MasteryController(Controller):
    dependencies = mastery_dependencies
    path = "/me/mastery"
    tags = ["Progress"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/",
        summary="Your mastery of each competency of a course: estimate, evidence counted, last evidence",
        description="Bayesian Knowledge Tracing estimates (docs/adaptive.md). 404 for a course you are not "
        "enrolled in (or that does not exist).",
    )
    async def my_mastery(
        self,
        mastery_service: MasteryService,
        course_id: Annotated[UUID, Parameter(query="course_id", description="One of your courses")],
    ) -> MasteryOut:
        return await mastery_service.mine(course_id)
