from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Grade(OrgScoped, Base):
    """A grade for a submission, by the AI or a human; a human override adds a new row (history kept)."""

    __tablename__ = "grades"
    __table_args__ = (CheckConstraint("graded_by in ('ai', 'human', 'auto')", name="grader_known"),)

    submission_id: Mapped[UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    feedback: Mapped[str] = mapped_column(Text, default="")
    graded_by: Mapped[str] = mapped_column(String(10))
    grader_user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(60), nullable=True)
    rationale: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
