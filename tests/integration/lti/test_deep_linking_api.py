"""Deep Linking 2.0 over the API (issue 14 §3): the picker reads the stored request, the instructor who
launched it answers it once, and the answer is an LtiDeepLinkingResponse signed by the tool key.

The stored request is seeded directly in Redis (``lti:dl:<id>``, as the launch writes it) next to an
LtiPlatform row; every claim of the JWT is checked here (aud/iss/nonce/deployment_id included) against the
tool's published key set."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Course, Item, LtiPlatform
from app.domain.lti import toolkeys
from app.domain.lti.deep_linking import StoredRequest, dl_key, encode_stored
from app.lib.lti.deeplink import CLAIM, DL_CLAIM
from tests.integration.credentials.issuer_helpers import org_of, tenant
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
ISSUER = "https://lms.deep-linking.test"
RETURN_URL = "https://lms.deep-linking.test/deep_link/return"


async def _me(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    return me


@pytest.fixture(scope="module")
async def platform(settings: Settings) -> LtiPlatform:
    org_id = await org_of(settings, "demo")
    async with tenant(settings, org_id) as session:
        existing = await session.scalar(select(LtiPlatform).where(LtiPlatform.issuer == ISSUER))
        if existing is not None:
            return existing
        row = LtiPlatform(
            org_id=org_id,
            name="Deep Linking LMS",
            issuer=ISSUER,
            client_id="dl-client",
            auth_login_url=f"{ISSUER}/auth",
            auth_token_url=f"{ISSUER}/token",
            key_set_url=f"{ISSUER}/jwks",
            deployment_ids=["dep-dl"],
        )
        session.add(row)
        await session.flush()
        return row


@pytest.fixture(scope="module")
async def content(settings: Settings) -> dict[str, Any]:
    """Two demo items (a lesson and an assessment), a demo course and an item of another org."""
    demo, acme = await org_of(settings, "demo"), await org_of(settings, "acme")
    async with tenant(settings, demo) as session:
        quiz = (
            await session.execute(
                select(Item, Course.title).join(Assessment, Assessment.item_id == Item.id).join(Course).limit(1)
            )
        ).one()
        lesson = await session.scalar(select(Item).where(Item.kind == "lesson", Item.course_id == quiz[0].course_id))
        course = await session.get(Course, quiz[0].course_id)
    async with tenant(settings, acme) as session:
        foreign = await session.scalar(select(Item).limit(1))
    assert lesson is not None
    assert course is not None
    assert foreign is not None
    return {"quiz": quiz[0], "lesson": lesson, "course": course, "foreign": foreign}


@pytest.fixture
async def instructor(client: Client) -> dict[str, Any]:
    headers = await auth_headers(client, "instructor@demo.test", "demo")
    return {"headers": headers, "me": await _me(client, headers)}


async def _store(redis: Redis, settings: Settings, platform: LtiPlatform, user_id: str, **overrides: Any) -> str:
    dl_id = secrets.token_urlsafe(16)
    fields: dict[str, Any] = {
        "platform_id": platform.id,
        "org_id": platform.org_id,
        "user_id": uuid.UUID(user_id),
        "deployment_id": "dep-dl",
        "return_url": RETURN_URL,
        "accept_types": ["ltiResourceLink"],
        "accept_multiple": True,
        "accept_lineitem": True,
        "data": "csrf-token-xyz",
        "title": "Week 3 activity",
    }
    fields.update(overrides)
    await redis.set(dl_key(settings.redis_key_prefix, dl_id), encode_stored(StoredRequest(**fields)), ex=3600)
    return dl_id


async def _tool_keys(settings: Settings) -> KeySet:
    db = Database.from_settings(settings)
    try:
        async with db.transaction(None) as session:
            published = await toolkeys.published_jwks(session, settings)
    finally:
        await db.dispose()
    return KeySet.import_key_set(published)  # type: ignore[arg-type]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_the_launching_instructor_reads_the_settings(
    client: Client, redis: Redis, settings: Settings, platform: LtiPlatform, instructor: dict[str, Any]
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"], accept_multiple=False)
    response = await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=instructor["headers"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": dl_id,
        "platform": {"id": str(platform.id), "name": "Deep Linking LMS"},
        "accept_types": ["ltiResourceLink"],
        "accept_multiple": False,
        "accept_lineitem": True,
        "accepts_resource_links": True,
        "title": "Week 3 activity",
    }


async def test_nobody_else_reads_or_answers_it(
    client: Client, redis: Redis, settings: Settings, platform: LtiPlatform, instructor: dict[str, Any]
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"])
    body = {"items": [{"kind": "course", "id": str(uuid.uuid4())}]}
    for email, org, status in (
        ("admin@demo.test", "demo", 403),  # staff of the same org, but not the person who launched
        ("instructor@acme.test", "acme", 403),  # another org
        ("learner@demo.test", "demo", 403),  # not staff
    ):
        headers = await auth_headers(client, email, org)
        _problem(await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=headers), status)
        _problem(await client.post(f"/v1/lti/deep-linking/{dl_id}/response", json=body, headers=headers), status)
    _problem(await client.get(f"/v1/lti/deep-linking/{dl_id}"), 401)
    _problem(await client.get("/v1/lti/deep-linking/no-such-request", headers=instructor["headers"]), 404)
    # Still there for its owner.
    assert (await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=instructor["headers"])).status_code == 200


async def test_several_items_answered_with_a_signed_response(
    client: Client,
    redis: Redis,
    settings: Settings,
    platform: LtiPlatform,
    instructor: dict[str, Any],
    content: dict[str, Any],
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"])
    quiz, lesson, course = content["quiz"], content["lesson"], content["course"]
    picked = [
        {"kind": "item", "id": str(lesson.id)},
        {"kind": "item", "id": str(quiz.id)},
        {"kind": "course", "id": str(course.id)},
    ]
    response = await client.post(
        f"/v1/lti/deep-linking/{dl_id}/response", json={"items": picked}, headers=instructor["headers"]
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["return_url"] == RETURN_URL

    token = jwt.decode(out["jwt"], await _tool_keys(settings), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"]
    claims = token.claims
    assert claims["iss"] == "dl-client"  # the tool's client_id
    assert claims["aud"] == ISSUER  # the platform
    assert claims["azp"] == "dl-client"
    assert isinstance(claims["nonce"], str)
    assert len(claims["nonce"]) >= 16
    assert claims["exp"] - claims["iat"] == 300
    assert claims[CLAIM + "deployment_id"] == "dep-dl"
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[DL_CLAIM + "data"] == "csrf-token-xyz"
    first, second, third = claims[DL_CLAIM + "content_items"]
    launch = f"{settings.base_url}/lti/launch"
    assert first["type"] == "ltiResourceLink"
    assert first["url"] == launch
    assert first["title"] == lesson.title
    assert first["custom"] == {"lyceum_item_id": str(lesson.id)}
    assert "lineItem" not in first
    assert second["custom"] == {"lyceum_item_id": str(quiz.id)}
    assert second["lineItem"] == {
        "scoreMaximum": 100.0,
        "label": quiz.title,
        "resourceId": str(quiz.id),
        "tag": "lyceum-assessment",
    }
    assert third["custom"] == {"lyceum_course_id": str(course.id)}
    assert third["title"] == course.title

    # Answered once: the request is gone.
    again = await client.post(
        f"/v1/lti/deep-linking/{dl_id}/response", json={"items": picked[:1]}, headers=instructor["headers"]
    )
    _problem(again, 404)
    _problem(await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=instructor["headers"]), 404)


async def test_one_item_only_when_the_platform_accepts_one(
    client: Client,
    redis: Redis,
    settings: Settings,
    platform: LtiPlatform,
    instructor: dict[str, Any],
    content: dict[str, Any],
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"], accept_multiple=False, data=None)
    two = [{"kind": "item", "id": str(content["lesson"].id)}, {"kind": "item", "id": str(content["quiz"].id)}]
    url = f"/v1/lti/deep-linking/{dl_id}/response"
    _problem(await client.post(url, json={"items": two}, headers=instructor["headers"]), 422)
    # The refusal did not use the request up.
    response = await client.post(url, json={"items": two[1:]}, headers=instructor["headers"])
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["jwt"], await _tool_keys(settings), algorithms=["RS256"]).claims
    assert len(claims[DL_CLAIM + "content_items"]) == 1
    assert DL_CLAIM + "data" not in claims


async def test_no_line_item_when_not_accepted(
    client: Client,
    redis: Redis,
    settings: Settings,
    platform: LtiPlatform,
    instructor: dict[str, Any],
    content: dict[str, Any],
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"], accept_lineitem=False)
    response = await client.post(
        f"/v1/lti/deep-linking/{dl_id}/response",
        json={"items": [{"kind": "item", "id": str(content["quiz"].id)}]},
        headers=instructor["headers"],
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["jwt"], await _tool_keys(settings), algorithms=["RS256"]).claims
    assert "lineItem" not in claims[DL_CLAIM + "content_items"][0]


async def test_refused_when_resource_links_are_not_accepted(
    client: Client,
    redis: Redis,
    settings: Settings,
    platform: LtiPlatform,
    instructor: dict[str, Any],
    content: dict[str, Any],
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"], accept_types=["file", "html"])
    shown = await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=instructor["headers"])
    assert shown.json()["accepts_resource_links"] is False
    body = {"items": [{"kind": "item", "id": str(content["lesson"].id)}]}
    problem = _problem(
        await client.post(f"/v1/lti/deep-linking/{dl_id}/response", json=body, headers=instructor["headers"]), 422
    )
    assert "resource links" in problem["detail"]


async def test_only_content_of_the_callers_org(
    client: Client,
    redis: Redis,
    settings: Settings,
    platform: LtiPlatform,
    instructor: dict[str, Any],
    content: dict[str, Any],
) -> None:
    dl_id = await _store(redis, settings, platform, instructor["me"]["user_id"])
    url = f"/v1/lti/deep-linking/{dl_id}/response"
    for picked in (
        [{"kind": "item", "id": str(content["foreign"].id)}],
        [{"kind": "course", "id": str(uuid.uuid4())}],
        [{"kind": "course", "id": str(content["lesson"].id)}],  # an item's id named as a course
    ):
        problem = _problem(await client.post(url, json={"items": picked}, headers=instructor["headers"]), 422)
        assert problem["errors"][0]["pointer"] == "#/items/0/id"
    for bad in ({"items": []}, {"items": [{"kind": "module", "id": str(uuid.uuid4())}]}, {"nope": 1}):
        response = await client.post(url, json=bad, headers=instructor["headers"])
        assert response.status_code in (400, 422), response.text
    dup = [{"kind": "item", "id": str(content["lesson"].id)}] * 2
    _problem(await client.post(url, json={"items": dup}, headers=instructor["headers"]), 422)
