from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Tokens = Annotated[int, msgspec.Meta(ge=1, le=10_000_000_000)]


class BudgetSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Token budgets of the org; null means "use the platform default"."""

    org_monthly_tokens: Tokens | None = None
    course_monthly_tokens: Tokens | None = None
    user_daily_tokens: Tokens | None = None
    session_tokens: Tokens | None = None


class BudgetView(msgspec.Struct):
    configured: BudgetSettings
    effective: BudgetSettings
    defaults: BudgetSettings
    org_month_used_tokens: int
    org_month_reserved_tokens: int


class PromptVersionIn(msgspec.Struct, forbid_unknown_fields=True):
    system: Annotated[str, msgspec.Meta(min_length=20, max_length=20_000)]
    weight: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 1
    active: bool = True


class PromptVersionOut(msgspec.Struct):
    name: str
    version: str
    weight: int
    active: bool
    source: str  # file | org
    system: str


class VariantStats(msgspec.Struct):
    version: str
    interactions: int
    input_tokens_avg: float
    output_tokens_avg: float
    first_token_ms_p50: float | None
    total_ms_p50: float | None
    cost_usd_total: float
    guardrail_triggers: int
    blocked: int
    ratings: int
    rating_avg: float | None


class PromptComparison(msgspec.Struct):
    name: str
    variants: list[VariantStats]


class SpendLine(msgspec.Struct):
    """Tutor and grading spend of one scope this month and where it is heading at the month's pace so far."""

    scope: Literal["org", "course"]
    id: UUID
    title: str
    tokens_used: int
    cost_usd: float
    projected_tokens: int
    projected_cost_usd: float
    limit_tokens: int | None  # the effective monthly token budget of this scope (null: no limit)
    projected_share: float | None  # projected tokens / limit (over 1.0: the budget runs out before month end)


class SpendView(msgspec.Struct):
    month_start: datetime
    month_end: datetime
    elapsed: float  # the share of the month gone, 0-1
    org: SpendLine
    courses: list[SpendLine]
