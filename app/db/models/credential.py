from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Credential(OrgScoped, Base):
    """An issued Open Badges 3.0 AchievementCredential; revocation keeps the row and records why.

    One per enrolment (``enrollment_id`` is unique): a retried or doubled ``issue_credential`` job finds
    the row and issues nothing new."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("status_list_id", "status_index", name="uq_credentials_status_entry"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    achievement: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # OBv3 Achievement
    document: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # the credential with its DI proof
    jwt: Mapped[str] = mapped_column(Text, default="")  # the same credential as a VC-JWT
    kid: Mapped[str] = mapped_column(String(500), default="")  # the key that signed both proofs
    subject_id: Mapped[str] = mapped_column(String(500), default="")  # credentialSubject.id
    status_list_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("status_lists.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    status_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")  # the name the learner shows publicly
    issued_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revocation_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
