"""Fixtures of the AI observability tests (this directory only): admin headers of both orgs, their org ids,
a database handle, and synthetic interactions written like the tutor writes them (app role, under RLS).
Each test names its own model (``unique_model``), so its numbers are its own whatever else the session wrote."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import insert

from app.config import Settings
from app.db.engine import Database
from app.db.models import AIFeedback, AIInteraction
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
async def demo_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@demo.test", "demo")


@pytest.fixture(scope="module")
async def acme_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@acme.test", "acme")


async def _me(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
async def demo_org(client: Client, demo_admin: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await _me(client, demo_admin))["org_id"])


@pytest.fixture(scope="module")
async def demo_admin_id(client: Client, demo_admin: dict[str, str]) -> uuid.UUID:
    me = await _me(client, demo_admin)
    return uuid.UUID(me.get("user_id") or me["id"])


@pytest.fixture(scope="module")
async def db(settings: Settings, seeded: Any) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


@pytest.fixture
def unique_model() -> str:
    return f"test-model-{uuid.uuid4().hex[:10]}"


async def add_interactions(db: Database, org_id: uuid.UUID, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert interactions (defaults filled in) in the org's own transaction; their ids."""
    values = []
    for row in rows:
        values.append(
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "content_hash": "0" * 64,
                "object_key": "synthetic",
                "provider": "offline",
                "purpose": "tutor",
                "prompt_name": "tutor",
                "prompt_version": "v1",
                "input_tokens": 100,
                "output_tokens": 50,
                "cost_usd": Decimal("0.001"),
                "status": "completed",
                "error_code": "",
                "guardrail_outcomes": [],
                **row,
            }
        )
    async with db.transaction(org_id) as session:
        await session.execute(insert(AIInteraction), values)
    return [v["id"] for v in values]


async def add_rating(
    db: Database,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    interaction_id: uuid.UUID,
    rating: int,
    at: datetime | None = None,
) -> None:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "source": "learner_rating",
        "user_id": user_id,
        "interaction_id": interaction_id,
        "rating": rating,
        "comment": "",
        "details": {},
    }
    if at is not None:
        row["created_at"] = row["updated_at"] = at
    async with db.transaction(org_id) as session:
        await session.execute(insert(AIFeedback), [row])
