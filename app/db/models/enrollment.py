from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Enrollment(OrgScoped, Base):
    """A learner on a course. Unique per (user, course) so enrolling twice returns the same row."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        CheckConstraint("status in ('active', 'completed', 'withdrawn')", name="status_known"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # Where "Continue" resumes: the item the learner last opened (PUT /v1/courses/{id}/position).
    last_item_id: Mapped[UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), nullable=True)
    last_item_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # The published version of the course the learner enrolled in (issue 17); None: enrolled before versions
    # were recorded. An instructor's migration moves it to the latest version.
    course_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
