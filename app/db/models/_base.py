"""Shared column sets. Every table has a UUID primary key and created_at/updated_at (advanced-alchemy)."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import UUIDAuditBase
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

Base = UUIDAuditBase


class OrgScoped:
    """Rows owned by one organization. Row-level security on ``org_id`` (migration 0001) isolates tenants."""

    @declared_attr
    def org_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False)
