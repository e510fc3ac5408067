from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

REVIEW_REASONS = ("low_confidence", "sample", "disagreement", "grader_error")


class ReviewItem(OrgScoped, Base):
    """A submission waiting for (or given) a human decision. One per submission; a claim is a lease.

    ``priority``: lower is more urgent (disagreements and grader errors first, random samples last).
    The lease (``claimed_by`` + ``lease_expires_at``) lets one reviewer work an item at a time without a
    lock that outlives a closed browser tab."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint("status in ('open', 'decided')", name="status_known"),
        CheckConstraint("reason in ('low_confidence', 'sample', 'disagreement', 'grader_error')", name="reason_known"),
        CheckConstraint("decision is null or decision in ('accept', 'override')", name="decision_known"),
        Index("ix_review_items_queue_order", "org_id", "status", "priority", "sla_due_at"),
    )

    submission_id: Mapped[UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    assessment_id: Mapped[UUID] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[str] = mapped_column(String(10), default="open")
    sla_due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    claimed_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    decided_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(10), nullable=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    # The learner's own words when they contested the grade (reason ``disagreement``); shown to reviewers.
    dispute_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
