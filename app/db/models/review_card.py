from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ReviewCard(OrgScoped, Base):
    """A learner's spaced-review schedule for one competency (app/domain/spaced, issue 12 §7).

    Opened when an assessment covering the competency first passes; one per learner x competency, so a
    later pass never resets it. ``fsrs`` is the ``fsrs.Card.to_dict()`` state; ``due_at`` mirrors its
    ``due`` so the due listing is an index range scan."""

    __tablename__ = "review_cards"
    __table_args__ = (
        UniqueConstraint("user_id", "competency_id"),
        Index("ix_review_cards_user_due", "user_id", "due_at"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[UUID] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"), index=True)
    # The assessment item whose pass opened the card (kept for people; the question bank is the course's).
    source_item_id: Mapped[UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), nullable=True)
    fsrs: Mapped[dict[str, Any]] = mapped_column(JsonB)
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_review_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    reps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # answered reviews
    lapses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of them rated Again
