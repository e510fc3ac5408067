"""Deep Linking through the real launch (issue 14 §3): the test platform's LtiDeepLinkingRequest launch, the
session it hands the web app, the picker's API with that session, and the signed answer verified as the
platform would (its own aud/iss/nonce/deployment checks). Two concurrent answers: exactly one is signed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.db.engine import Database
from app.domain.lti import toolkeys
from app.lib.lti import claims as c
from app.lib.lti.deeplink import CLAIM, DL_CLAIM
from tests.integration.lti.launch_helpers import an_item, registered
from tests.support.lti.platform import INSTRUCTOR, TestPlatform
from tests.support.lti.server import PlatformServer, running_platform_server

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def lms() -> Iterator[PlatformServer]:
    with running_platform_server() as server:
        yield server


@pytest.fixture
async def platform(settings: Settings, lms: PlatformServer) -> TestPlatform:
    return await registered(settings, lms)


async def _instructor_session(client: Client, platform: TestPlatform, **deep_linking: Any) -> dict[str, Any]:
    settings_claim = {
        "deep_link_return_url": f"{platform.issuer}/deep-link-return",
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe"],
        "accept_multiple": True,
        "accept_lineitem": True,
        "data": "round-trip-data",
        **deep_linking,
    }
    return await platform.launch(
        client,
        sub=f"teacher-{secrets.token_hex(4)}",
        roles=[INSTRUCTOR],
        message_type=c.DEEP_LINKING_REQUEST,
        deep_linking=settings_claim,
    )


async def _tool_keys(settings: Settings) -> KeySet:
    db = Database.from_settings(settings)
    try:
        async with db.transaction(None) as session:
            return KeySet.import_key_set(await toolkeys.published_jwks(session, settings))  # type: ignore[arg-type]
    finally:
        await db.dispose()


async def test_launch_pick_and_answer(client: Client, settings: Settings, platform: TestPlatform) -> None:
    session = await _instructor_session(client, platform)
    assert session["target"]["kind"] == "deep_link"
    dl_id = session["target"]["deep_link_id"]
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    shown = await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["platform"] == {"id": str(platform.id), "name": platform.name}
    assert shown.json()["accept_multiple"] is True

    quiz, course_id = await an_item(settings, "demo", "assessment")
    lesson, _ = await an_item(settings, "demo", "lesson")
    picked = [{"kind": "item", "id": str(lesson)}, {"kind": "item", "id": str(quiz)}]
    answer = await client.post(f"/v1/lti/deep-linking/{dl_id}/response", json={"items": picked}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["return_url"] == f"{platform.issuer}/deep-link-return"

    # What the platform checks on receipt (lti1p3platform-style checks skip these: assert them here).
    token = jwt.decode(body["jwt"], await _tool_keys(settings), algorithms=["RS256"])
    claims = token.claims
    assert claims["iss"] == platform.client_id
    assert claims["aud"] == platform.issuer
    assert claims[CLAIM + "deployment_id"] == platform.deployment_id
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[DL_CLAIM + "data"] == "round-trip-data"
    assert claims["nonce"]
    assert claims["iat"] <= claims["exp"]
    items = claims[DL_CLAIM + "content_items"]
    assert [i["custom"] for i in items] == [{"lyceum_item_id": str(lesson)}, {"lyceum_item_id": str(quiz)}]
    assert items[1]["lineItem"]["resourceId"] == str(quiz)
    assert all(i["url"] == f"{settings.base_url}/lti/launch" for i in items)

    # The link it created launches exactly that item (custom parameter first).
    learner = await platform.launch(client, sub=f"learner-{secrets.token_hex(4)}", custom=items[1]["custom"])
    assert learner["target"]["kind"] == "item"
    assert learner["target"]["item_id"] == str(quiz)
    assert learner["target"]["course_id"] == str(course_id)


async def test_one_item_only_request(client: Client, settings: Settings, platform: TestPlatform) -> None:
    session = await _instructor_session(client, platform, accept_multiple=False)
    dl_id = session["target"]["deep_link_id"]
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    assert (await client.get(f"/v1/lti/deep-linking/{dl_id}", headers=headers)).json()["accept_multiple"] is False
    quiz, _ = await an_item(settings, "demo", "assessment")
    lesson, _ = await an_item(settings, "demo", "lesson")
    url = f"/v1/lti/deep-linking/{dl_id}/response"
    two = [{"kind": "item", "id": str(lesson)}, {"kind": "item", "id": str(quiz)}]
    assert (await client.post(url, json={"items": two}, headers=headers)).status_code == 422
    one = await client.post(url, json={"items": two[:1]}, headers=headers)
    assert one.status_code == 200, one.text


async def test_concurrent_answers_sign_once(client: Client, settings: Settings, platform: TestPlatform) -> None:
    session = await _instructor_session(client, platform)
    dl_id = session["target"]["deep_link_id"]
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    lesson, _ = await an_item(settings, "demo", "lesson")
    body = {"items": [{"kind": "item", "id": str(lesson)}]}
    answers = await asyncio.gather(
        *(client.post(f"/v1/lti/deep-linking/{dl_id}/response", json=body, headers=headers) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 404, 404, 404], [a.text for a in answers]
