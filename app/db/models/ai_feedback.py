from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class AIFeedback(OrgScoped, Base):
    """Quality signal on AI output: a learner's 1-5 rating, or an AI-vs-human grading pair."""

    __tablename__ = "ai_feedback"
    __table_args__ = (
        CheckConstraint("source in ('learner_rating', 'human_review')", name="source_known"),
        CheckConstraint("rating is null or (rating between 1 and 5)", name="rating_range"),
        Index("ix_ai_feedback_org_created", "org_id", "created_at"),  # the usage rollup's refresh (0019)
    )

    source: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    interaction_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("ai_interactions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    submission_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    ai_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    human_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
