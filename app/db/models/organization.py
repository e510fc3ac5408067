from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base


class Organization(Base):
    """A tenant: a school, bootcamp or company. Its id is the RLS key of every org-scoped row."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("transcript_retention_days between 1 and 3650", name="transcript_retention_days_range"),
    )

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    # Members sign in through the org's SSO connection only; its admins keep password sign-in (break-glass,
    # docs/sso.md). Issue 16.
    sso_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # How many days AI transcript text is kept (null: forever). The worker's daily purge deletes older texts and
    # keeps the rows' metrics (app/domain/dataprivacy/retention.py, migration 0026).
    transcript_retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
