from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ReviewDueCount(OrgScoped, Base):
    """A learner's spaced-review workload for one UTC day, precomputed by the daily
    ``precompute_review_due`` job (a re-run the same day overwrites the row)."""

    __tablename__ = "review_due_counts"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "day"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    due_now: Mapped[int] = mapped_column(Integer)  # cards due when the job ran
    due_today: Mapped[int] = mapped_column(Integer)  # cards due by the end of that UTC day
    next_due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    computed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
