"""Webhooks (issue 16): an org's endpoints, the transactional outbox of events, and one delivery per
(event, endpoint).

- ``webhook_events`` is the outbox: a row is written in the same transaction as the change it reports
  (``app/domain/webhooks/outbox.py`` ``record_event``), so a rolled-back change leaves no event and a
  committed one cannot lose it. The relay marks it ``relayed_at`` once it has made its deliveries.
- ``webhook_deliveries``: what one endpoint is owed for one event (unique per pair, so a relay that runs
  twice makes no second delivery), with its retry state and the last answer (the delivery log).
- ``webhook_endpoints``: URL, subscribed event types, the signing secret (sealed), enabled or disabled with
  the reason, and the circuit breaker's counters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookEndpoint(OrgScoped, Base):
    """A receiver an org admin registered: where to POST which event types, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JsonB, default=list)
    # ``whsec_`` + base64 of 24 random bytes, sealed (app.lib.sealing) with the endpoint id as associated data.
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why it is disabled: "" (enabled, or disabled by an admin with no reason), or the auto-disable notice.
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # Circuit breaker: failures in a row; open until ``breaker_open_until`` (then one delivery probes).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    breaker_open_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class WebhookEvent(OrgScoped, Base):
    """One event in the outbox: its type and the body's ``data`` (the typed payload, encoded)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_unrelayed", "created_at", postgresql_where="relayed_at is null"),
        # The daily prune's search for an org's old relayed events (app/domain/webhooks/retention.py).
        Index("ix_webhook_events_org_relayed", "org_id", "relayed_at", postgresql_where="relayed_at is not null"),
    )

    type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    relayed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class WebhookDelivery(OrgScoped, Base):
    """What one endpoint is owed for one event, its retry state and the last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("uq_webhook_deliveries_event_endpoint", "event_id", "endpoint_id", unique=True),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),
        CheckConstraint("status in ('pending', 'delivered', 'failed')", name="status_known"),
    )

    event_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
