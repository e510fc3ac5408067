"""Answers of the AI observability routes (``/v1/admin/ai/...``). Times are bucket starts (UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

GroupBy = Literal["model", "course", "prompt_version", "org"]
Bucket = Literal["hour", "day"]


class UsagePoint(msgspec.Struct):
    t: datetime
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_p50_ms: float | None  # estimated from the rollup's histogram (docs/observability.md: error bound)
    ttft_p95_ms: float | None
    turns: int


class UsageSeries(msgspec.Struct):
    key: str
    points: list[UsagePoint]


class UsageOut(msgspec.Struct):
    series: list[UsageSeries]
    # "platform": every org's figures (the caller operates the deployment, group_by=org); "org": the caller's.
    scope: Literal["org", "platform"] = "org"


class GuardrailPoint(msgspec.Struct):
    t: datetime
    turns: int
    guardrail_turns: int  # turns with at least one guardrail outcome
    blocked: int


class PolicyPoint(msgspec.Struct):
    t: datetime
    triggers: int


class PolicySeries(msgspec.Struct):
    key: str  # the guardrail policy: injection, pii, answer_leak, ...
    points: list[PolicyPoint]


class GuardrailsOut(msgspec.Struct):
    points: list[GuardrailPoint]
    series: list[PolicySeries]


class ProviderPoint(msgspec.Struct):
    t: datetime
    turns: int
    offline_turns: int
    offline_share: float | None  # offline_turns / turns; null when there were no turns


class ProviderTotal(msgspec.Struct):
    key: str  # the provider: anthropic, offline, ...
    turns: int


class ProvidersOut(msgspec.Struct):
    points: list[ProviderPoint]
    providers: list[ProviderTotal]


class GradingPoint(msgspec.Struct):
    t: datetime
    ai_graded: int  # submissions given an AI grade in the bucket
    escalated: int  # of those, sent to human review (low confidence, a grader error, a learner's dispute)
    escalation_rate: float | None
    reviewed: int  # reviews of AI grades decided in the bucket
    agreed: int  # of those, the reviewer accepted the AI's grade
    agreement_rate: float | None


class GradingOut(msgspec.Struct):
    points: list[GradingPoint]


class RatingRow(msgspec.Struct):
    model: str
    prompt_version: str
    turns: int
    ratings: int
    rating_avg: float | None


class RatingsOut(msgspec.Struct):
    rows: list[RatingRow]
