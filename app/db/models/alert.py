"""Alerts (issue 17 item 5): rules an org admin sets on the AI's cost and quality, and the alerts they fire.

- ``alert_rules``: what to watch (``kind``), the threshold, the trailing window it is measured over, on/off.
- ``alerts``: one firing of a rule, with the value that crossed the threshold; open until the metric is back
  under it (``resolved_at``), acknowledged by a person independently (``acknowledged_at``/``_by``). A partial
  unique index keeps one open alert per rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

AlertKind = Literal["cost_burn_rate", "rating_drop", "guardrail_spike", "grading_disagreement"]
ALERT_KINDS: Final[tuple[AlertKind, ...]] = ("cost_burn_rate", "rating_drop", "guardrail_spike", "grading_disagreement")


class AlertRule(OrgScoped, Base):
    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint(
            "kind in ('cost_burn_rate', 'rating_drop', 'guardrail_spike', 'grading_disagreement')", name="kind_known"
        ),
        CheckConstraint("window_minutes between 5 and 10080", name="window_bounded"),
    )

    kind: Mapped[str] = mapped_column(String(40))
    threshold: Mapped[float] = mapped_column(Float)
    window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class Alert(OrgScoped, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_fired_at", "org_id", "fired_at"),
        Index("uq_alerts_open_per_rule", "rule_id", unique=True, postgresql_where="resolved_at is null"),
    )

    rule_id: Mapped[UUID | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    window_minutes: Mapped[int] = mapped_column(Integer)
    fired_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    acknowledged_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
