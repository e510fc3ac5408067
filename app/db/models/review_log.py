from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ReviewLog(OrgScoped, Base):
    """One answer to a spaced-review question: the rating FSRS was given and the schedule it produced.
    Written once, never changed. ``idempotency_key`` (the request's ``Idempotency-Key``) makes a replay
    return this answer instead of reviewing the card twice, even after Redis forgot the key."""

    __tablename__ = "review_logs"
    __table_args__ = (
        UniqueConstraint("card_id", "idempotency_key"),
        CheckConstraint("rating between 1 and 4", name="rating_known"),
    )

    card_id: Mapped[UUID] = mapped_column(ForeignKey("review_cards.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    question_ref: Mapped[str] = mapped_column(String(200))
    choice: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the option picked (multiple choice)
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None for self-rated questions
    rating: Mapped[int] = mapped_column(SmallInteger)  # fsrs.Rating: 1 again, 2 hard, 3 good, 4 easy
    answered_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    due_before: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    due_after: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
