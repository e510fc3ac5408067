from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class StatusList(OrgScoped, Base):
    """A W3C Bitstring Status List of an org's credentials. The bits are not stored: they are the
    ``status_index`` of this list's revoked credentials; ``document`` is the last signed list credential."""

    __tablename__ = "status_lists"

    purpose: Mapped[str] = mapped_column(String(20), default="revocation")
    size: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)  # indices handed out; full at ``size``
    document: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # {} until first signed
    etag: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
