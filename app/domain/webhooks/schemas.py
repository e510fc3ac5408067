"""API shapes of the webhook administration (``/v1/admin/webhooks``; docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

# The catalogue (app/domain/webhooks/outbox.py WEBHOOK_PAYLOADS); a type outside it is a 400 at decoding.
EventType = Literal[
    "enrollment.created",
    "item.completed",
    "course.completed",
    "assessment.graded",
    "review.decided",
    "credential.issued",
    "credential.revoked",
    "user.provisioned",
]
EndpointUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)]


class WebhookEndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: EndpointUrl
    events: EventTypes


class WebhookEndpointUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A partial change: fields left out stay. Enabling clears the breaker and the disabled notice."""

    events: EventTypes | None = None
    enabled: bool | None = None


class WebhookEndpointCreated(msgspec.Struct):
    """The new endpoint with its signing secret: shown this once, never again."""

    id: UUID
    url: str
    events: list[str]
    secret: str


class WebhookSecretOut(msgspec.Struct):
    """A rotated secret: shown this once; the old one stops signing at once."""

    id: UUID
    secret: str


class WebhookEndpointOut(msgspec.Struct):
    id: UUID
    url: str
    events: list[str]
    enabled: bool
    # Why it is disabled (the auto-disable notice after persistent failure); "" otherwise.
    disabled_reason: str
    disabled_at: datetime | None
    breaker: Literal["closed", "open", "half_open"]
    consecutive_failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryOut(msgspec.Struct):
    """One entry of the delivery log: an event owed to the endpoint and how sending it went."""

    id: UUID
    event_id: UUID
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
