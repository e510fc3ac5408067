"""Retention of the outbox and its delivery log (app/domain/webhooks/retention.py): relayed events older
than the retention go with their deliveries; an event still owed a delivery, one not yet relayed and a recent
one stay; another org's old events go in that org's own transaction; a run with nothing to do changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from app.db.engine import Database
from app.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.domain.webhooks.retention import prune
from app.lib.sealing import seal
from tests.integration.webhooks.conftest import Client
from tests.support.stack import auth_headers

RETENTION_DAYS = 30


async def add_event(
    db: Database, org: uuid.UUID, endpoint: uuid.UUID, age: timedelta, *, relayed: bool, delivery: str | None
) -> uuid.UUID:
    at = datetime.now(UTC) - age
    event_id = uuid.uuid4()
    async with db.transaction(org) as session:
        await session.execute(
            insert(WebhookEvent).values(
                id=event_id,
                org_id=org,
                type="enrollment.created",
                data={"test": "retention"},
                occurred_at=at,
                relayed_at=at if relayed else None,
                created_at=at,
                updated_at=at,
            )
        )
        if delivery is not None:
            await session.execute(
                insert(WebhookDelivery).values(
                    org_id=org,
                    event_id=event_id,
                    endpoint_id=endpoint,
                    status=delivery,
                    attempts=1,
                    last_error="",
                    created_at=at,
                    updated_at=at,
                )
            )
    return event_id


async def add_endpoint(db: Database, org: uuid.UUID) -> uuid.UUID:
    # Disabled, so no relay of this session sends it anything; the rows below are written by hand.
    endpoint_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with db.transaction(org) as session:
        await session.execute(
            insert(WebhookEndpoint).values(
                id=endpoint_id,
                org_id=org,
                url="https://receiver.example/retention",
                events=["enrollment.created"],
                secret_sealed=seal(b"whsec_retention", bytes(32), endpoint_id.bytes),  # never used: disabled
                enabled=False,
                disabled_reason="retention test",
                consecutive_failures=0,
                created_at=now,
                updated_at=now,
            )
        )
    return endpoint_id


async def surviving(db: Database, org: uuid.UUID, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with db.transaction(org) as session:
        return set(await session.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(ids))))


async def deliveries_of(db: Database, org: uuid.UUID, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with db.transaction(org) as session:
        return set(await session.scalars(select(WebhookDelivery.event_id).where(WebhookDelivery.event_id.in_(ids))))


async def test_old_relayed_events_go_with_their_log_and_everything_still_owed_stays(
    client: Client, db: Database, demo_org: uuid.UUID
) -> None:
    acme_admin = await auth_headers(client, "admin@acme.test", "acme")
    acme = uuid.UUID((await client.get("/v1/me", headers=acme_admin)).json()["org_id"])
    demo_endpoint, acme_endpoint = await add_endpoint(db, demo_org), await add_endpoint(db, acme)
    old, recent = timedelta(days=RETENTION_DAYS + 5), timedelta(days=RETENTION_DAYS - 5)
    try:
        delivered = await add_event(db, demo_org, demo_endpoint, old, relayed=True, delivery="delivered")
        failed = await add_event(db, demo_org, demo_endpoint, old, relayed=True, delivery="failed")
        no_endpoint = await add_event(db, demo_org, demo_endpoint, old, relayed=True, delivery=None)
        owed = await add_event(db, demo_org, demo_endpoint, old, relayed=True, delivery="pending")
        unrelayed = await add_event(db, demo_org, demo_endpoint, old, relayed=False, delivery=None)
        fresh = await add_event(db, demo_org, demo_endpoint, recent, relayed=True, delivery="delivered")
        acme_old = await add_event(db, acme, acme_endpoint, old, relayed=True, delivery="delivered")

        assert await prune(db, RETENTION_DAYS) >= 4

        demo_ids = [delivered, failed, no_endpoint, owed, unrelayed, fresh]
        assert await surviving(db, demo_org, demo_ids) == {owed, unrelayed, fresh}
        assert await deliveries_of(db, demo_org, demo_ids) == {owed, fresh}  # the log went with its events
        assert await surviving(db, acme, [acme_old]) == set()
        assert await prune(db, RETENTION_DAYS) == 0  # nothing left to do
        assert await surviving(db, demo_org, demo_ids) == {owed, unrelayed, fresh}
    finally:
        for org, endpoint in ((demo_org, demo_endpoint), (acme, acme_endpoint)):
            async with db.transaction(org) as session:
                await session.execute(delete(WebhookEvent).where(WebhookEvent.data["test"].astext == "retention"))
                await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint))
