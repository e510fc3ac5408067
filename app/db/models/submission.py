from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Submission(OrgScoped, Base):
    """A learner's answer to an assessment; its status follows the grading pipeline."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("status in ('queued', 'grading', 'graded', 'in_review', 'failed')", name="status_known"),
    )

    assessment_id: Mapped[UUID] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    answer: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Why grading failed (status "failed"), in words for the learner; empty otherwise.
    detail: Mapped[str] = mapped_column(Text, default="")
