from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class IssuerProfile(OrgScoped, Base):
    """An org as an Open Badges issuer: the Profile its credentials name (one per org, edited by its admin)."""

    __tablename__ = "issuer_profiles"
    __table_args__ = (Index("uq_issuer_profiles_org", "org_id", unique=True),)

    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    image_url: Mapped[str] = mapped_column(String(1000), default="")
    description: Mapped[str] = mapped_column(Text, default="")


class IssuerKey(OrgScoped, Base):
    """An org's Ed25519 signing key. The private half is sealed (AES-256-GCM) with the key-encryption key
    from settings and never leaves the service; retired keys stay published so old credentials verify."""

    __tablename__ = "issuer_keys"
    __table_args__ = (
        # One key signs at a time: rotation retires the active key and inserts the next in one transaction.
        Index("uq_issuer_keys_active", "org_id", unique=True, postgresql_where=text("active")),
    )

    kid: Mapped[str] = mapped_column(String(500), unique=True)  # the DID URL: "<did>#key-<date>-<hex>"
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonB)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
