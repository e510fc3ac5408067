from __future__ import annotations

from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class ItemPrerequisite(OrgScoped, Base):
    """A pathway edge: ``item_id`` unlocks once ``prerequisite_id`` is complete."""

    __tablename__ = "item_prerequisites"
    __table_args__ = (
        UniqueConstraint("item_id", "prerequisite_id"),
        CheckConstraint("item_id <> prerequisite_id", name="no_self_edge"),
    )

    item_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    prerequisite_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
