from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Submission(OrgScoped, Base):
    """A learner's answer to an assessment; its status follows the grading pipeline."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("status in ('queued', 'grading', 'graded', 'in_review', 'failed')", name="status_known"),
        # What the stalled-submission sweep scans every few seconds (migration 0005).
        Index(
            "ix_submissions_unfinished",
            "status",
            "created_at",
            postgresql_where=text("status in ('queued', 'grading')"),
        ),
    )

    assessment_id: Mapped[UUID] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    answer: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Why grading failed (status "failed"), in words for the learner; empty otherwise.
    detail: Mapped[str] = mapped_column(Text, default="")
    # While a worker grades it (status "grading"), the job stamps this every few seconds; a stale stamp
    # means the run was abandoned, and the worker's sweep grades it again (migration 0005).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # How often the sweep has had to restart grading of this submission; past LYCEUM_GRADING_RETRIES it fails.
    recoveries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
