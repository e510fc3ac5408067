"""Every refused login and launch (issue 14 §2, §7): a 4xx HTML page naming the reason, never a 5xx, never a
session (no code, no LTI user). One test per Security Framework check, through the real endpoints."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from joserfc.jwk import RSAKey
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.config import Settings
from app.domain.lti import platform_keys
from app.domain.lti.schemas import LoginState
from app.lib.lti import claims as c
from app.lib.lti.idtoken import MAX_ID_TOKEN_BYTES
from tests.integration.lti.launch_helpers import lti_user_rows, registered
from tests.support.lti.platform import TestPlatform, launch_code, new_key, page_data
from tests.support.lti.server import PlatformServer, running_platform_server

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def lti_server() -> Iterator[PlatformServer]:
    with running_platform_server() as server:
        yield server


@pytest.fixture
async def platform(settings: Settings, lti_server: PlatformServer) -> TestPlatform:
    return await registered(settings, lti_server)


def assert_refused(response: Any, code: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert page_data(response.text) == {"page": "lti-error", "code": code}
    assert "/lti/app" not in response.text


async def refused_launch(
    client: Client, settings: Settings, platform: TestPlatform, code: str, status: int = 400, **token_args: Any
) -> None:
    sub = f"refused-{uuid.uuid4().hex[:8]}"
    response = await platform.launch_response(client, sub=sub, **token_args)
    assert_refused(response, code, status)
    assert await lti_user_rows(settings, platform, sub) == []


async def test_wrong_signature(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "bad_signature", key=new_key(kid=platform.kid))


async def test_a_rotated_kid_is_accepted_after_one_refetch(client: Client, platform: TestPlatform) -> None:
    await platform.launch(client, sub="before-rotation")  # fills the key-set cache
    fetches = len(platform.jwks_fetches())
    platform.rotate()
    session = await platform.launch(client, sub="after-rotation")
    assert session["user"]["role"] == "learner"
    assert len(platform.jwks_fetches()) == fetches + 1


async def test_unknown_kid_then_a_rotated_kid_is_accepted_after_refetch(
    client: Client, settings: Settings, platform: TestPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_keys, "REFRESH_INTERVAL_SECONDS", 1)  # the app runs in this process
    await platform.launch(client, sub="before-rotation")
    fetches = len(platform.jwks_fetches())
    await refused_launch(client, settings, platform, "unknown_kid", kid="never-published")
    assert len(platform.jwks_fetches()) == fetches + 1  # refetched once for the unknown kid
    # The platform rotates; the new kid is accepted once the refetch rate limit lets the tool look again.
    platform.rotate()
    deadline = time.monotonic() + 60
    while True:
        response = await platform.launch_response(client, sub="after-rotation")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        assert page_data(response.text)["code"] == "unknown_kid"
        await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    assert len(platform.jwks_fetches()) >= fetches + 2


async def test_unknown_kid_refetches_at_most_once_per_interval(
    client: Client, settings: Settings, platform: TestPlatform
) -> None:
    await platform.launch(client, sub="warm")
    before = len(platform.jwks_fetches())
    for _ in range(5):
        await refused_launch(client, settings, platform, "unknown_kid", kid=f"random-{uuid.uuid4().hex}")
    assert len(platform.jwks_fetches()) <= before + 1


async def test_replayed_launch_form_is_refused(client: Client, settings: Settings, platform: TestPlatform) -> None:
    login = await platform.login(client)
    token = platform.id_token(nonce=login.nonce, sub="replayer")
    first = await platform.post_launch(client, token, login.state)
    assert first.status_code == 200
    again = await platform.post_launch(client, token, login.state)
    assert_refused(again, "state_unknown")


async def test_replayed_id_token_with_a_fresh_state_is_refused(
    client: Client, settings: Settings, platform: TestPlatform
) -> None:
    login = await platform.login(client)
    token = platform.id_token(nonce=login.nonce, sub="replayer-2")
    assert (await platform.post_launch(client, token, login.state)).status_code == 200
    # A new login: its own nonce, so the old id_token does not match it.
    fresh = await platform.login(client)
    assert_refused(await platform.post_launch(client, token, fresh.state), "nonce_mismatch")


async def test_replayed_nonce_is_refused_even_within_the_token_lifetime(
    client: Client, settings: Settings, platform: TestPlatform, redis: Redis
) -> None:
    login = await platform.login(client)
    token = platform.id_token(nonce=login.nonce, sub="nonce-replayer")
    assert (await platform.post_launch(client, token, login.state)).status_code == 200
    # A state that would accept that nonce (as if an attacker could mint one): the consumed nonce still refuses.
    assert platform.id is not None
    assert platform.org_id is not None
    forged_state = uuid.uuid4().hex
    entry = LoginState(
        platform_id=platform.id, org_id=platform.org_id, nonce=login.nonce, target_link_uri=f"{settings.base_url}/lti"
    )
    await redis.set(f"{settings.redis_key_prefix}lti:state:{forged_state}", msgspec.json.encode(entry), ex=60)
    assert_refused(await platform.post_launch(client, token, forged_state), "nonce_replayed")


async def test_expired_token(client: Client, settings: Settings, platform: TestPlatform) -> None:
    now = time.time()
    await refused_launch(client, settings, platform, "expired", iat=now - 900, exp=now - 600)


async def test_wrong_audience(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "wrong_audience", aud="someone-else", azp=None)


async def test_wrong_issuer(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "wrong_issuer", iss="https://evil.example")


async def test_unregistered_deployment(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "unregistered_deployment", **{c.DEPLOYMENT_ID: "dep-unknown"})
    login = await platform.login(client, lti_deployment_id="dep-unknown")
    assert login.status == 400
    assert page_data(login.body)["code"] == "unregistered_deployment"


async def test_target_link_uri_elsewhere(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "foreign_target", target_link_uri="https://evil.example/lti")


async def test_wrong_message_type(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "wrong_message_type", message_type="LtiSubmissionReviewRequest")


async def test_missing_required_claims(client: Client, settings: Settings, platform: TestPlatform) -> None:
    await refused_launch(client, settings, platform, "missing_resource_link", resource_link=None)
    await refused_launch(client, settings, platform, "missing_roles", **{c.ROLES: None})
    any_alg = RSAKey.generate_key(2048, parameters={"kid": platform.kid})  # no "alg": may sign RS512
    await refused_launch(client, settings, platform, "bad_algorithm", alg="RS512", key=any_alg)


async def test_unknown_state(client: Client, settings: Settings, platform: TestPlatform) -> None:
    token = platform.id_token(nonce="whatever")
    assert_refused(await platform.post_launch(client, token, "never-issued"), "state_unknown")
    assert_refused(await platform.post_launch(client, token, "x" * 1000), "state_unknown")


async def test_login_refusals(client: Client, settings: Settings, platform: TestPlatform) -> None:
    unknown = await platform.login(client, iss="https://unregistered.example")
    assert unknown.status == 404
    assert page_data(unknown.body)["code"] == "unknown_registration"
    wrong_client = await platform.login(client, client_id="not-this-one")
    assert wrong_client.status == 404
    foreign = await platform.login(client, target_link_uri="https://evil.example/lti/launch")
    assert foreign.status == 400
    assert page_data(foreign.body)["code"] == "foreign_target"
    missing = await platform.login(client, login_hint=None)
    assert missing.status == 400
    assert page_data(missing.body)["code"] == "missing_parameter"
    bad_storage = await platform.login(client, lti_storage_target="<script>")
    assert bad_storage.status == 400
    long_hint = await platform.login(client, login_hint="h" * 5000)
    assert long_hint.status == 400
    # Without client_id, the issuer's only registration is found; POST works like GET.
    assert (await platform.login(client, client_id=None)).status == 302
    assert (await platform.login(client, method="POST")).status == 302


async def test_bad_bodies_and_methods_never_5xx(client: Client, settings: Settings, platform: TestPlatform) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    cases = [
        (b'{"id_token": "x", "state": "y"}', {"content-type": "application/json"}, 415),
        (b"", {}, 415),
        (b"", form, 400),
        (b"id_token=abc", form, 400),
        (b"id_token=\xff\xfe&state=x", form, 400),
        (b"id_token=a%00b&state=x", form, 400),
        (b"state=s&id_token=" + b"a" * (MAX_ID_TOKEN_BYTES + 10), form, 400),
        (b"&".join(b"f%d=1" % i for i in range(200)), form, 400),
        (b"error=access_denied&state=x", form, 401),
        (b"id_token=not.a.jwt&state=s", form, 400),
    ]
    for body, headers, status in cases:
        response = await client.post("/lti/launch", content=body, headers=headers)
        assert response.status_code == status, (body[:60], response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
    login_nul = await client.post("/lti/login", content=b"iss=a%00b", headers=form)
    assert login_nul.status_code == 400
    query_nul = await client.get("/lti/login?iss=a%00b")
    assert 400 <= query_nul.status_code < 500
    for method, path in [
        ("OPTIONS", "/lti/login"),
        ("OPTIONS", "/lti/launch"),
        ("HEAD", "/lti/login"),
        ("GET", "/lti/launch"),
        ("PUT", "/lti/login"),
        ("OPTIONS", "/v1/lti/session"),
        ("GET", "/v1/lti/session"),
    ]:
        response = await client.request(method, path)
        assert response.status_code < 500, (method, path, response.status_code)
    huge = await client.post("/lti/launch", content=b"a" * (settings.max_body_bytes + 1), headers=form)
    assert 400 <= huge.status_code < 500


async def test_postmessage_storage_variant(client: Client, settings: Settings, platform: TestPlatform) -> None:
    login = await platform.login(client, lti_storage_target="_parent")
    assert login.status == 200
    assert login.storage_target == "_parent"
    data = page_data(login.body)
    assert data["mode"] == "put"
    assert data["state"] == login.state
    assert data["nonce"] == login.nonce
    assert data["platform_origin"] == platform.issuer.rsplit("/", 1)[0]
    response = await platform.post_launch(client, platform.id_token(nonce=login.nonce, sub="storage-user"), login.state)
    assert response.status_code == 200
    launched = page_data(response.text)
    assert launched["mode"] == "get"
    assert launched["state"] == login.state
    assert launched["nonce"] == login.nonce
    assert launched["storage_target"] == "_parent"
    exchanged = await client.post("/v1/lti/session", json={"code": launch_code(response.text)})
    assert exchanged.status_code == 200


async def test_every_refusal_is_logged_with_its_reason(
    client: Client, settings: Settings, platform: TestPlatform
) -> None:
    with capture_logs() as logs:
        await refused_launch(client, settings, platform, "wrong_audience", aud="someone-else", azp=None)
    refusals = [entry for entry in logs if entry.get("event") == "lti_refused"]
    assert len(refusals) == 1, logs
    assert refusals[0]["code"] == "wrong_audience"
    assert refusals[0]["step"] == "launch"
    assert "client_id" in refusals[0]["reason"]
    assert refusals[0]["log_level"] == "warning"
