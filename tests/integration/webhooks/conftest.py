"""Fixtures of the webhook tests (this directory only): the suite's app (LYCEUM_WEBHOOKS_ALLOW_PRIVATE on,
so the receiver on 127.0.0.1 is allowed) and a strict one (off, as in production), admin headers, the test
receiver, a database handle, and the endpoints a test registered removed afterwards (other modules' events
must not keep feeding them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError

from app.asgi import create_app
from app.config import Settings
from app.db.engine import Database
from app.db.models import WebhookEndpoint
from tests.support.stack import auth_headers
from tests.support.webhooks import Receiver, running_receiver

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
async def strict_client(settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(replace(settings, webhooks_allow_private=False))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def demo_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@demo.test", "demo")


@pytest.fixture(scope="module")
async def acme_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@acme.test", "acme")


@pytest.fixture(scope="module")
async def demo_org(client: Client, demo_admin: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await client.get("/v1/me", headers=demo_admin)).json()["org_id"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


@pytest.fixture(scope="module")
async def db(settings: Settings, seeded: Any, demo_org: uuid.UUID) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    # A relay of a worker still running in this session may be inserting deliveries for these endpoints:
    # PostgreSQL can pick this cleanup as a deadlock victim, so it is tried again (an idle run saw it once).
    for attempt in range(5):
        try:
            async with database.transaction(demo_org) as session:
                await session.execute(delete(WebhookEndpoint))
            break
        except DBAPIError as exc:
            if "deadlock" not in str(exc) or attempt == 4:
                raise
            await asyncio.sleep(0.2)
    await database.dispose()
