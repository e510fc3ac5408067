from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class DeadLetter(OrgScoped, Base):
    """A background job that failed for good: what it was, how often it was tried, and the final reason."""

    __tablename__ = "dead_letters"

    job_key: Mapped[str] = mapped_column(String(200), index=True)
    function: Mapped[str] = mapped_column(String(100))
    submission_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
