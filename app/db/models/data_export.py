"""Personal-data exports (issue 18 item 5): one row per export of one person's data in one organization.

A learner asks for their own (``GET /v1/me/export``), an org admin for one learner's. The worker's
``build_data_export`` job writes a zip to the object store under ``exports/<org_id>/`` and marks the row
``ready`` with an expiry; after it the file is deleted and the row says ``expired``. The row is the state a
reloaded page reads back, so a request survives reloads and restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

DataExportStatus = Literal["pending", "ready", "failed", "expired"]
DATA_EXPORT_STATUSES: Final[tuple[DataExportStatus, ...]] = ("pending", "ready", "failed", "expired")


class DataExport(OrgScoped, Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        CheckConstraint("status in ('pending', 'ready', 'failed', 'expired')", name="status_known"),
    )

    # Whose data: the subject of the export (cascade: an erased-and-deleted user takes their exports along).
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Who asked: the subject themselves or an org admin.
    requested_by: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    object_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
