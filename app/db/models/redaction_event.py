"""The append-only record of personal data removed (issue 18 item 5, migration 0026): one row per erased
person per org (``user_erased``) and per retention purge run of an org (``transcripts_purged``).

Like ``progress_events`` it can only be appended to (``lyceum_refuse_change()``); the projection rebuild reads
``user_erased`` rows so a rebuilt projection stays erased. It holds ids and counts only, never the data."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

REDACTION_KINDS: Final = ("user_erased", "transcripts_purged")


class RedactionEvent(OrgScoped, Base):
    __tablename__ = "redaction_events"
    __table_args__ = (
        CheckConstraint("kind in ('user_erased', 'transcripts_purged')", name="kind_known"),
        Index("ix_redaction_events_user_kind", "user_id", "kind"),
    )

    # No foreign keys: the row must outlive (and never block) changes to the users it names.
    user_id: Mapped[UUID | None] = mapped_column(nullable=True)  # null for an org-wide purge run
    kind: Mapped[str] = mapped_column(String(30))
    requested_by: Mapped[UUID | None] = mapped_column(nullable=True)  # null: the scheduled job
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict, server_default="{}")
