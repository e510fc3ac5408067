"""The mastery projection (issue 12 §4) and the competency gates it answers (§5).

``mastery_estimates`` and ``projection_checkpoints`` are projections: derived from ``progress_events`` only,
so ``lyceum projections rebuild`` can delete them and fold them again. Their ids and timestamps are derived
from the events too (never ``now()`` or a random id), which is what makes a rebuild reproduce them byte for
byte."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ItemRequirement(OrgScoped, Base):
    """A competency gate: the item opens once the learner's mastery of the competency reaches ``mastery``
    (course YAML ``requires: [{competency, mastery}]``)."""

    __tablename__ = "item_requirements"
    __table_args__ = (
        UniqueConstraint("item_id", "competency_id"),
        CheckConstraint("mastery >= 0 and mastery <= 1", name="mastery_fraction"),
    )

    item_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[UUID] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"), index=True)
    mastery: Mapped[float] = mapped_column(Float)


class MasteryEstimate(OrgScoped, Base):
    """One learner's Bayesian Knowledge Tracing estimate of one competency (a row once there is evidence).

    ``created_at``/``updated_at`` are the times of the first and last evidence (event times), and the id
    is derived from (user, competency), so a rebuild writes the same bytes."""

    __tablename__ = "mastery_estimates"
    __table_args__ = (UniqueConstraint("user_id", "competency_id"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[UUID] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"), index=True)
    mastery: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    last_evidence_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class ProjectionCheckpoint(OrgScoped, Base):
    """How far a projection has folded one progress stream: the last ``version`` applied.

    Per stream, not one global position: versions are gap-free and ordered within a stream (appends lock
    the enrollment), while across streams commit order is not the order of any column."""

    __tablename__ = "projection_checkpoints"
    __table_args__ = (UniqueConstraint("projection", "stream_id"),)

    projection: Mapped[str] = mapped_column(String(40))
    stream_id: Mapped[UUID] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)
