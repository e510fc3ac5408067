from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ProgressEvent(OrgScoped, Base):
    """Append-only event log of learner progress (event sourcing).

    ``stream_id`` is one learner-on-a-course stream; ``version`` increases by one per event and the
    unique constraint turns concurrent writers into an optimistic-concurrency conflict. UPDATE and
    DELETE are refused by a trigger (migration 0001) and not granted to the application role.
    """

    __tablename__ = "progress_events"
    __table_args__ = (
        UniqueConstraint("stream_id", "version"),
        UniqueConstraint("org_id", "idempotency_key"),
    )

    stream_id: Mapped[UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
