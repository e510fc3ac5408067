"""Search test helpers: index the seeded orgs' courses, and learners enrolled in every course of their org."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.engine import create_engine, owner_url
from app.db.models import Organization
from app.domain.search.indexer import ContentIndexer
from tests.support.stack import DEMO_PASSWORD, auth_headers, login

Client = AsyncTestClient[Litestar]


async def org_ids(settings: Settings) -> dict[str, UUID]:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            return {slug: org_id for org_id, slug in await conn.execute(select(Organization.id, Organization.slug))}
    finally:
        await engine.dispose()


async def index_everything(indexer: ContentIndexer, settings: Settings) -> dict[str, UUID]:
    """Index every published course of every org; returns org ids by slug.

    Tests use their own Database (the app under the test client runs on another event loop) and their
    own VectorIndex: in one process, Chroma clients of one path share their data."""
    orgs = await org_ids(settings)
    for org_id in orgs.values():
        for course_id in await indexer.courses_of_org(org_id):
            await indexer.index_course(org_id, course_id)
    return orgs


async def enrolled_learner(client: Client, org: str = "demo") -> dict[str, str]:
    """A new learner of ``org`` enrolled in every course of the org's catalogue; bearer headers."""
    admin = await auth_headers(client, f"admin@{org}.test", org)
    email = f"search-{uuid.uuid4().hex[:10]}@{org}.test"
    password = DEMO_PASSWORD + "-search"
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Sam Searcher", "roles": ["learner"], "password": password},
    )
    assert created.status_code == 201, created.text
    tokens = await login(client, email, org, password)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for course in await catalogue(client, headers):
        enrolled = await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
        assert enrolled.status_code in (200, 201), enrolled.text
    return headers


async def catalogue(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/courses", headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def item_slugs(client: Client, headers: dict[str, str]) -> dict[str, tuple[str, str]]:
    """item id -> (course slug, item slug) over the caller's catalogue."""
    found: dict[str, tuple[str, str]] = {}
    for course in await catalogue(client, headers):
        detail = (await client.get(f"/v1/courses/{course['id']}", headers=headers)).json()
        for module in detail["modules"]:
            for item in module["items"]:
                found[item["id"]] = (course["slug"], item["slug"])
    return found
