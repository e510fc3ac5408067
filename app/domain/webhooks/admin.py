"""Webhook endpoints as an org admin manages them: register (the secret shown once), list, read, change
events or enabled, delete, rotate the secret, read the delivery log, replay a delivery. Every change is
audited (never with the secret). URLs are checked for shape at once and resolved: an endpoint whose host
resolves to a loopback, private or link-local address is refused unless LYCEUM_WEBHOOKS_ALLOW_PRIVATE
(the deliverer checks again before every send)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from saq import Queue
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import retry_transient
from app.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.webhooks.delivery import enqueue_delivery, secret_aad
from app.domain.webhooks.schemas import (
    WebhookDeliveryOut,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookSecretOut,
)
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.lti.http import resolve_public
from app.lib.sealing import key_encryption_key, seal
from app.lib.webhooks import UnsafeUrl, new_secret

MAX_ENDPOINTS_PER_ORG = 50


def breaker_state(endpoint: WebhookEndpoint, now: datetime) -> Literal["closed", "open", "half_open"]:
    if endpoint.breaker_open_until is None:
        return "closed"
    return "open" if endpoint.breaker_open_until > now else "half_open"


def endpoint_out(row: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        breaker=breaker_state(row, datetime.now(UTC)),
        consecutive_failures=row.consecutive_failures,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _snapshot(row: WebhookEndpoint) -> dict[str, Any]:
    return {"url": row.url, "events": list(row.events), "enabled": row.enabled}


def _unique(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


@dataclass(eq=False, repr=False, kw_only=True)
class WebhookAdminService(TenantService):
    settings: Settings
    queue: Queue

    async def _check_url(self, url: str) -> str:
        url = url.strip()
        try:
            await resolve_public(url, allow_private=self.settings.webhooks_allow_private)
        except UnsafeUrl as exc:
            raise ValidationFailed(
                "The endpoint URL is refused", errors=[{"pointer": "#/url", "detail": str(exc)}]
            ) from exc
        return url

    def _seal(self, endpoint_id: UUID, secret: str) -> bytes:
        return seal(secret.encode(), key_encryption_key(self.settings), secret_aad(endpoint_id))

    async def _row(self, session: AsyncSession, endpoint_id: UUID, *, lock: bool = False) -> WebhookEndpoint:
        row = await session.get(WebhookEndpoint, endpoint_id, with_for_update=lock)
        if row is None:
            raise NotFound("No such webhook endpoint in this organization")
        return row

    async def create(self, data: WebhookEndpointIn) -> WebhookEndpointCreated:
        url = await self._check_url(data.url)
        secret = new_secret()
        endpoint_id = uuid.uuid4()
        async with self._tx() as session:
            count = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
            if (count or 0) >= MAX_ENDPOINTS_PER_ORG:
                raise Conflict(f"An organization has at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints")
            row = WebhookEndpoint(
                id=endpoint_id,
                org_id=self.principal.org_id,
                url=url,
                events=_unique(list(data.events)),
                secret_sealed=self._seal(endpoint_id, secret),
                enabled=True,
                disabled_reason="",
                consecutive_failures=0,
            )
            session.add(row)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="webhook_endpoint.created",
                entity_type="webhook_endpoint",
                entity_id=row.id,
                after=_snapshot(row),
                request_id=self.request_id,
            )
            return WebhookEndpointCreated(id=row.id, url=row.url, events=list(row.events), secret=secret)

    async def list(self, page: LimitOffset) -> OffsetPagination[WebhookEndpointOut]:
        async with self._tx() as session:
            total = await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0
            rows = await session.scalars(
                select(WebhookEndpoint)
                .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            return OffsetPagination(
                items=[endpoint_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
            )

    async def get(self, endpoint_id: UUID) -> WebhookEndpointOut:
        async with self._tx() as session:
            return endpoint_out(await self._row(session, endpoint_id))

    async def update(self, endpoint_id: UUID, change: WebhookEndpointUpdate) -> WebhookEndpointOut:
        async with self._tx() as session:
            row = await self._row(session, endpoint_id, lock=True)
            before = _snapshot(row)
            if change.events is not None:
                row.events = _unique(list(change.events))
            if change.enabled is not None and change.enabled != row.enabled:
                if change.enabled:
                    # A fresh start: the admin says the receiver is fixed (the URL is checked again first).
                    await self._check_url(row.url)
                    row.enabled, row.disabled_reason, row.disabled_at = True, "", None
                    row.consecutive_failures, row.breaker_open_until = 0, None
                else:
                    row.enabled, row.disabled_reason, row.disabled_at = False, "", datetime.now(UTC)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="webhook_endpoint.updated",
                entity_type="webhook_endpoint",
                entity_id=row.id,
                before=before,
                after=_snapshot(row),
                request_id=self.request_id,
            )
            await session.refresh(row)
            return endpoint_out(row)

    async def delete(self, endpoint_id: UUID) -> None:
        """Remove an endpoint and its delivery log; nothing more is sent to it."""
        await retry_transient(lambda: self._delete(endpoint_id))

    async def _delete(self, endpoint_id: UUID) -> None:
        async with self._tx() as session:
            # Lock in the delivery path's order (delivery, then endpoint: delivery.py _claim/_record), so a
            # delete racing an attempt waits for it instead of deadlocking with it. The relay can still
            # add a delivery in between; PostgreSQL then breaks the rare deadlock and retry_transient
            # runs the delete again.
            await session.execute(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.id)
                .with_for_update()
            )
            row = await self._row(session, endpoint_id, lock=True)
            record_audit_by(
                session,
                self.principal,
                action="webhook_endpoint.deleted",
                entity_type="webhook_endpoint",
                entity_id=row.id,
                before=_snapshot(row),
                request_id=self.request_id,
            )
            await session.delete(row)

    async def rotate_secret(self, endpoint_id: UUID) -> WebhookSecretOut:
        secret = new_secret()
        async with self._tx() as session:
            row = await self._row(session, endpoint_id, lock=True)
            row.secret_sealed = self._seal(row.id, secret)
            record_audit_by(
                session,
                self.principal,
                action="webhook_endpoint.secret_rotated",
                entity_type="webhook_endpoint",
                entity_id=row.id,
                request_id=self.request_id,
            )
        return WebhookSecretOut(id=endpoint_id, secret=secret)

    async def deliveries(self, endpoint_id: UUID, page: LimitOffset) -> OffsetPagination[WebhookDeliveryOut]:
        """The endpoint's delivery log, newest first."""
        async with self._tx() as session:
            await self._row(session, endpoint_id)
            total = (
                await session.scalar(
                    select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
                )
                or 0
            )
            rows = await session.execute(
                select(WebhookDelivery, WebhookEvent.type)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [_delivery_out(d, t) for d, t in rows.tuples()]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    async def replay(self, endpoint_id: UUID, delivery_id: UUID) -> WebhookDeliveryOut:
        """Send a delivery again from a fresh retry schedule (a failed one, or a delivered one the receiver
        lost). Receivers see the same ``webhook-id``, so an idempotent receiver handles it once."""
        async with self._tx() as session:
            endpoint = await self._row(session, endpoint_id)
            if not endpoint.enabled:
                raise Conflict("Enable the endpoint before replaying its deliveries", extra={"code": "disabled"})
            row = (
                await session.execute(
                    select(WebhookDelivery, WebhookEvent.type)
                    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
                    .with_for_update(of=WebhookDelivery)
                )
            ).one_or_none()
            if row is None:
                raise NotFound("No such delivery for this endpoint")
            delivery, event_type = row
            if delivery.status == "pending":
                raise Conflict("This delivery is still being tried", extra={"code": "pending"})
            before = {"status": delivery.status, "attempts": delivery.attempts}
            delivery.status, delivery.attempts = "pending", 0
            delivery.next_attempt_at, delivery.delivered_at = datetime.now(UTC), None
            record_audit_by(
                session,
                self.principal,
                action="webhook_delivery.replayed",
                entity_type="webhook_delivery",
                entity_id=delivery.id,
                before=before,
                after={"status": "pending"},
                request_id=self.request_id,
            )
            await session.flush()
            out = _delivery_out(delivery, event_type)
        await enqueue_delivery(self.queue, self.settings, self.principal.org_id, delivery_id)
        return out


def _delivery_out(d: WebhookDelivery, event_type: str) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=d.id,
        event_id=d.event_id,
        event_type=event_type,
        status=d.status,  # type: ignore[arg-type]
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        delivered_at=d.delivered_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
    )
