from __future__ import annotations

from uuid import UUID

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ItemCompetency(OrgScoped, Base):
    """Which competencies an item teaches or assesses."""

    __tablename__ = "item_competencies"
    __table_args__ = (UniqueConstraint("item_id", "competency_id"),)

    item_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    competency_id: Mapped[UUID] = mapped_column(ForeignKey("competencies.id", ondelete="CASCADE"), index=True)
