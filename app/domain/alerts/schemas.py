from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

AlertKind = Literal["cost_burn_rate", "rating_drop", "guardrail_spike", "grading_disagreement"]
Threshold = Annotated[float, msgspec.Meta(ge=0, le=1_000_000_000)]
WindowMinutes = Annotated[int, msgspec.Meta(ge=5, le=10_080)]  # five minutes to a week


class AlertRuleIn(msgspec.Struct, forbid_unknown_fields=True):
    """``threshold`` is in the kind's unit: US dollars per hour (cost_burn_rate), the average learner rating
    1-5 it must not fall below (rating_drop), guardrail triggers in the window (guardrail_spike), the share
    0-1 of human reviews that overrode the AI's grade (grading_disagreement)."""

    kind: AlertKind
    threshold: Threshold
    window_minutes: WindowMinutes = 60
    enabled: bool = True


class AlertRuleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    threshold: Threshold | None = None
    window_minutes: WindowMinutes | None = None
    enabled: bool | None = None


class AlertRuleOut(msgspec.Struct):
    id: UUID
    kind: AlertKind
    threshold: float
    window_minutes: int
    enabled: bool
    description: str  # the rule in words, as the web app shows it
    created_at: datetime
    updated_at: datetime


class AlertOut(msgspec.Struct):
    id: UUID
    rule_id: UUID | None  # null once its rule was deleted
    kind: AlertKind
    value: float
    threshold: float
    window_minutes: int
    message: str
    fired_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: UUID | None
