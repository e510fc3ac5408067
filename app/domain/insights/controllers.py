"""AI observability routes (``/v1/admin/ai/...``, org admins): thin, the service does the work."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from app.domain.insights.deps import insights_dependencies
from app.domain.insights.schemas import (
    Bucket,
    GradingOut,
    GroupBy,
    GuardrailsOut,
    ProvidersOut,
    RatingsOut,
    UsageOut,
)
from app.domain.insights.services import InsightsService, window
from app.lib.auth import is_staff

BucketParam = Annotated[Bucket, Parameter(query="bucket", description="Point width: hour or day (UTC)")]
FromParam = Annotated[
    datetime | None, Parameter(query="from", description="Start (ISO 8601, inclusive); default: 48 h or 30 d back")
]
ToParam = Annotated[datetime | None, Parameter(query="to", description="End (ISO 8601, exclusive); default: now")]


class InsightsController(Controller):
    dependencies = insights_dependencies
    path = "/admin/ai"
    tags = ["AI observability"]
    # Instructors and admins of the org: the issue asks that instructors see the AI's cost and quality.
    guards = [is_staff]

    @get("/usage", summary="Tokens, cost, time-to-first-token p50/p95 and turns over time, grouped (rollup)")
    async def usage(
        self,
        insights_service: InsightsService,
        group_by: Annotated[GroupBy, Parameter(query="group_by")] = "model",
        bucket: BucketParam = "day",
        start: FromParam = None,
        end: ToParam = None,
    ) -> UsageOut:
        return await insights_service.usage(group_by, window(bucket, start, end))

    @get("/guardrails", summary="Guardrail triggers by policy over time, with turns and blocked turns (rollup)")
    async def guardrails(
        self,
        insights_service: InsightsService,
        bucket: BucketParam = "day",
        start: FromParam = None,
        end: ToParam = None,
    ) -> GuardrailsOut:
        return await insights_service.guardrails(window(bucket, start, end))

    @get("/providers", summary="Tutor turns by provider and the offline tutor's share over time (rollup)")
    async def providers(
        self,
        insights_service: InsightsService,
        bucket: BucketParam = "day",
        start: FromParam = None,
        end: ToParam = None,
    ) -> ProvidersOut:
        return await insights_service.providers(window(bucket, start, end))

    @get("/grading", summary="AI grades, escalations to human review and reviewer agreement over time")
    async def grading(
        self,
        insights_service: InsightsService,
        bucket: BucketParam = "day",
        start: FromParam = None,
        end: ToParam = None,
    ) -> GradingOut:
        return await insights_service.grading(window(bucket, start, end))

    @get("/ratings", summary="Learner ratings of tutor replies by model and prompt version (rollup)")
    async def ratings(
        self, insights_service: InsightsService, start: FromParam = None, end: ToParam = None
    ) -> RatingsOut:
        return await insights_service.ratings(window("day", start, end))
