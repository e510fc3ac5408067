from __future__ import annotations

from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class AISession(OrgScoped, Base):
    """A tutoring conversation of one learner about a course (and optionally one item)."""

    __tablename__ = "ai_sessions"
    __table_args__ = (
        CheckConstraint("mode in ('socratic', 'hint', 'explain')", name="mode_known"),
        # One open conversation per learner, course and item (migration 0007); "New conversation" closes it.
        Index(
            "uq_ai_sessions_open_per_item",
            "user_id",
            "course_id",
            text("coalesce(item_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), nullable=True)
    mode: Mapped[str] = mapped_column(String(20), default="socratic")  # the default for messages without one
    status: Mapped[str] = mapped_column(String(20), default="open")
