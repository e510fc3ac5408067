from __future__ import annotations

from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped
from app.lib.roles import ROLES


class Membership(OrgScoped, Base):
    """An org-scoped role held by a user. A user may hold several roles in one org."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", "role"),
        CheckConstraint(f"role in ({', '.join(repr(r) for r in ROLES)})", name="role_known"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
