"""Experiments (issue 17 item 2): tutor prompt variants and hint policies, each rolled out to a deterministic
share of an org's learners (optionally of one course) between a start and a stop.

``variants`` is a JSON list of ``{"key", "prompt_version", "hint_policy", "weight"}`` (validated by the API,
``app/domain/experiments/schemas.py``). A partial unique index keeps at most one *running* experiment per
target: (org, prompt, course), an org-wide experiment (no course) being a target of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

ExperimentStatus = Literal["draft", "running", "stopped"]
EXPERIMENT_STATUSES: Final[tuple[ExperimentStatus, ...]] = ("draft", "running", "stopped")
# The org-wide target in the one-running-per-target index (NULLs never collide in a unique index).
_NO_COURSE = "00000000-0000-0000-0000-000000000000"


class Experiment(OrgScoped, Base):
    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        CheckConstraint("status in ('draft', 'running', 'stopped')", name="status_known"),
        CheckConstraint("rollout_percent between 0 and 100", name="rollout_bounded"),
        Index(
            "uq_experiments_running_target",
            "org_id",
            "prompt",
            func.coalesce(text("course_id"), text(f"'{_NO_COURSE}'::uuid")),
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    key: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(2000), default="")
    prompt: Mapped[str] = mapped_column(String(100), default="tutor")
    course_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), nullable=True, index=True
    )
    rollout_percent: Mapped[int] = mapped_column(Integer, default=0)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
