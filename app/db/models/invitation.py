from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped
from app.lib.roles import ROLES


class Invitation(OrgScoped, Base):
    """An admin's invitation of an email address into the org with one role (issue 17). Only the SHA-256 of
    the one-time token is kept: the link itself is shown to the admin once (and on each re-send, which
    replaces the token). Accepted, revoked and expired invitations stay as history."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"role in ({', '.join(repr(r) for r in ROLES)})", name="role_known"),
        # At most one open invitation per address in an org: inviting again re-sends instead.
        Index(
            "uq_invitations_open_email",
            "org_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at is null and revoked_at is null"),
        ),
    )

    email: Mapped[str] = mapped_column(String(320))  # normalised like users.email
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    invited_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    accepted_user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
