"""Platform operators (the admins of LYCEUM_PLATFORM_ORG) see every org's AI usage with ``group_by=org``;
everyone else sees their own org's. The database decides: the definer function refuses anyone but an admin
of the operating org in that org's tenant, and the application role cannot make itself an operator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db.bootstrap import sync_platform_operators
from app.db.engine import Database
from app.domain.insights.rollup import refresh_org
from tests.integration.insights.conftest import Client, add_interactions
from tests.support.stack import auth_headers


@pytest.fixture
async def demo_operates(settings: Settings) -> AsyncIterator[None]:
    await sync_platform_operators(replace(settings, platform_org="demo"))
    yield
    await sync_platform_operators(settings)  # nobody again (the suite's setting)


async def usage_by_org(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    params = {
        "group_by": "org",
        "bucket": "day",
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    response = await client.get("/v1/admin/ai/usage", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def turns(body: dict[str, Any]) -> dict[str, int]:
    return {s["key"]: sum(p["turns"] for p in s["points"]) for s in body["series"]}


async def test_operators_see_every_org_and_nobody_else_does(
    client: Client,
    db: Database,
    demo_org: uuid.UUID,
    demo_admin: dict[str, str],
    acme_admin: dict[str, str],
    demo_operates: None,
    unique_model: str,
) -> None:
    acme = uuid.UUID((await client.get("/v1/me", headers=acme_admin)).json()["org_id"])
    now = datetime.now(UTC)
    await add_interactions(db, demo_org, [{"model": unique_model, "created_at": now}] * 3)
    await add_interactions(db, acme, [{"model": unique_model, "created_at": now}] * 2)
    for org in (demo_org, acme):
        await refresh_org(db, org, timedelta(hours=1))

    operator = await usage_by_org(client, demo_admin)
    assert operator["scope"] == "platform"
    seen = turns(operator)
    assert seen.get("demo", 0) >= 3, seen
    assert seen.get("acme", 0) >= 2, seen

    acme_view = await usage_by_org(client, acme_admin)  # an admin of another org: their own only
    assert acme_view["scope"] == "org"
    assert set(turns(acme_view)) <= {"acme"}
    instructor = await auth_headers(client, "instructor@demo.test", "demo")  # staff of the operating org
    instructor_view = await usage_by_org(client, instructor)
    assert instructor_view["scope"] == "org"
    assert set(turns(instructor_view)) <= {"demo"}
    model_view = await client.get("/v1/admin/ai/usage", params={"group_by": "model"}, headers=demo_admin)
    assert model_view.json()["scope"] == "org"  # only group_by=org crosses orgs


async def test_the_database_refuses_everyone_but_an_operator(
    client: Client, db: Database, acme_admin: dict[str, str], demo_operates: None
) -> None:
    me = (await client.get("/v1/me", headers=acme_admin)).json()
    acme, acme_admin_id = uuid.UUID(me["org_id"]), uuid.UUID(me.get("user_id") or me["id"])
    now = datetime.now(UTC)
    with pytest.raises(DBAPIError, match="platform operators"):
        async with db.transaction(acme, acme_admin_id) as session:
            await session.execute(
                text("select * from lyceum_platform_ai_usage('day', :start, :end)"),
                {"start": now - timedelta(days=1), "end": now},
            )
    with pytest.raises(DBAPIError, match="permission denied"):  # the app role cannot appoint itself
        async with db.transaction(acme, acme_admin_id) as session:
            await session.execute(text("insert into platform_operators (org_slug) values ('acme')"))


async def test_without_a_platform_org_nobody_operates(client: Client, demo_admin: dict[str, str]) -> None:
    body = await usage_by_org(client, demo_admin)
    assert body["scope"] == "org"
    assert set(turns(body)) <= {"demo"}
