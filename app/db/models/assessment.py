from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Assessment(OrgScoped, Base):
    """How an assessment item is graded. ``spec`` holds questions, rubric and hidden tests (never sent to learners)."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint("kind in ('multiple_choice', 'short_answer', 'code')", name="kind_known"),
        CheckConstraint("pass_mark >= 0 and pass_mark <= 1", name="pass_mark_fraction"),
        CheckConstraint("confidence_threshold >= 0 and confidence_threshold <= 1", name="threshold_fraction"),
    )

    item_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    graded: Mapped[bool] = mapped_column(Boolean, default=True)  # summative (True) or formative
    pass_mark: Mapped[float] = mapped_column(Float, default=0.7)  # fraction of max score
    confidence_threshold: Mapped[float] = mapped_column(Float, default=0.8)
    objectives: Mapped[list[str]] = mapped_column(JsonB, default=list)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
