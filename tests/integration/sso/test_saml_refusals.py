"""Every refused SAML response (issue 16 §2): a 4xx page naming the reason, never a 5xx, never a session (no
code, no user). Each test changes one thing in an otherwise valid response from the suite's IdP."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.config import Settings
from tests.integration.sso.saml_helpers import (
    ORG,
    Client,
    Started,
    admin_headers,
    assert_refused,
    code_of,
    configure,
    exchange,
    new_email,
    post_acs,
    start,
    users_with_email,
)
from tests.support.saml_idp import TestIdp, new_signing_key


@pytest.fixture
async def idp(client: Client) -> TestIdp:
    provider = TestIdp()
    await configure(client, provider, await admin_headers(client))
    return provider


def valid_assertion(idp: TestIdp, started: Started, email: str, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "in_response_to": started.request_id,
        "audience": started.sp_entity_id,
        "recipient": started.acs_url,
        "name_id": email,
        **overrides,
    }
    return idp.assertion(**args)


async def refused(
    client: Client,
    settings: Settings,
    idp: TestIdp,
    code: str,
    *,
    status: int = 400,
    response_args: dict[str, Any] | None = None,
    **assertion_overrides: Any,
) -> None:
    started = await start(client)
    email = new_email("refused")
    assertion = valid_assertion(idp, started, email, **assertion_overrides)
    args = {"in_response_to": started.request_id, "destination": started.acs_url, **(response_args or {})}
    with capture_logs() as logs:
        response = await post_acs(client, idp.response(assertion, **args))
    assert_refused(response, code, status)
    assert any(entry.get("event") == "saml_refused" and entry.get("code") == code for entry in logs), logs
    assert await users_with_email(settings, email) == []


async def test_an_unsigned_assertion_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "unsigned", signed=False)


async def test_a_signature_by_another_key_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "bad_signature", sign_with=new_signing_key("Impostor"))


async def test_a_wrong_audience_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "wrong_audience", audience="https://another-sp.example/metadata")


async def test_an_audience_of_another_org_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    other = f"{settings.base_url}/v1/auth/sso/other-org/saml/metadata"
    await refused(client, settings, idp, "wrong_audience", audience=other)


async def test_a_wrong_recipient_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "wrong_recipient", recipient="https://evil.example/acs")


async def test_a_recipient_that_only_starts_like_ours_is_refused(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    # The library compares by substring; we compare exactly.
    acs = f"{settings.base_url}/v1/auth/sso/{ORG}/saml/acs"
    await refused(client, settings, idp, "wrong_recipient", recipient=acs + "/../elsewhere")


async def test_a_wrong_destination_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "wrong_destination", response_args={"destination": "https://evil.example/acs"})


async def test_an_expired_assertion_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    now = datetime.now(UTC)
    await refused(
        client,
        settings,
        idp,
        "expired",
        not_before=now - timedelta(minutes=30),
        not_on_or_after=now - timedelta(minutes=10),
    )


async def test_an_assertion_not_yet_valid_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    now = datetime.now(UTC)
    await refused(
        client,
        settings,
        idp,
        "not_yet_valid",
        not_before=now + timedelta(minutes=10),
        not_on_or_after=now + timedelta(minutes=20),
    )


async def test_not_before_within_the_connections_skew_is_accepted_beyond_it_refused(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    await configure(client, idp, await admin_headers(client), clock_skew_seconds=120)
    now = datetime.now(UTC)
    started = await start(client)
    early = valid_assertion(idp, started, new_email(), not_before=now + timedelta(seconds=60))
    page = await post_acs(client, idp.response(early, in_response_to=started.request_id, destination=started.acs_url))
    assert page.status_code == 200, page.text
    code_of(page.text)
    # 200 s ahead: inside the library's fixed 300 s, outside this connection's 120 s.
    await refused(client, settings, idp, "not_yet_valid", not_before=now + timedelta(seconds=200))


async def test_a_transient_nameid_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(
        client,
        settings,
        idp,
        "transient_nameid",
        name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    )


async def test_a_wrong_issuer_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(client, settings, idp, "wrong_issuer", issuer="https://another-idp.example/saml")


async def test_the_same_response_twice_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    started = await start(client)
    response = idp.response(
        valid_assertion(idp, started, new_email()), in_response_to=started.request_id, destination=started.acs_url
    )
    first = await post_acs(client, response)
    assert first.status_code == 200, first.text
    assert_refused(await post_acs(client, response), "unknown_request")  # its request was used up


async def test_the_same_response_posted_twice_at_once_signs_in_once(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    started = await start(client)
    email = new_email()
    response = idp.response(
        valid_assertion(idp, started, email), in_response_to=started.request_id, destination=started.acs_url
    )
    answers = await asyncio.gather(post_acs(client, response), post_acs(client, response))
    assert sorted(a.status_code for a in answers) == [200, 400]
    assert len(await users_with_email(settings, email)) == 1


async def test_a_replayed_assertion_is_refused_by_the_replay_cache(
    client: Client, settings: Settings, idp: TestIdp, redis: Redis
) -> None:
    """Even if its request id were still pending (it is single use, so this takes putting it back), an assertion
    id already used is refused until the assertion expires."""
    started = await start(client)
    key = f"{settings.redis_key_prefix}sso:saml:request:{started.request_id}"
    pending = await redis.get(key)
    assert pending is not None
    response = idp.response(
        valid_assertion(idp, started, new_email()), in_response_to=started.request_id, destination=started.acs_url
    )
    assert (await post_acs(client, response)).status_code == 200
    await redis.set(key, pending, ex=60)
    assert_refused(await post_acs(client, response), "replayed")


async def test_an_unsolicited_response_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    """IdP-initiated: no InResponseTo anywhere."""
    await refused(client, settings, idp, "unsolicited", in_response_to=None, response_args={"in_response_to": None})


async def test_a_response_to_an_unknown_request_is_refused(client: Client, settings: Settings, idp: TestIdp) -> None:
    await refused(
        client,
        settings,
        idp,
        "unknown_request",
        in_response_to="ONELOGIN_never_issued",
        response_args={"in_response_to": "ONELOGIN_never_issued"},
    )


async def test_a_signed_assertion_for_another_request_is_refused(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    """The Response names our pending request, but the signed assertion's bearer confirmation answers another."""
    other = await start(client)
    await refused(client, settings, idp, "wrong_recipient", in_response_to=other.request_id)


async def test_xml_signature_wrapping_with_a_second_unsigned_assertion_is_refused(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    """The attacker's own signed assertion plus an unsigned one naming the victim (before it, then after it):
    refused, nobody signed in."""
    attacker, victim = new_email("attacker"), new_email("victim")
    for forged_first in (True, False):
        started = await start(client)
        signed = valid_assertion(idp, started, attacker)
        forged = valid_assertion(idp, started, victim, signed=False, attributes={"groups": ["it-admins"]})
        pair = (forged, signed) if forged_first else (signed, forged)
        response = idp.response(*pair, in_response_to=started.request_id, destination=started.acs_url)
        assert_refused(await post_acs(client, response), "assertion_count")
    assert await users_with_email(settings, victim) == []
    assert await users_with_email(settings, attacker) == []


async def test_xml_signature_wrapping_inside_the_forged_assertion_is_refused(
    client: Client, settings: Settings, idp: TestIdp
) -> None:
    """The signed assertion hidden in the forged one's Advice (the signature still verifies by its ID)."""
    started = await start(client)
    attacker, victim = new_email("attacker"), new_email("victim")
    signed = valid_assertion(idp, started, attacker)
    forged = valid_assertion(idp, started, victim, signed=False)
    wrapped = forged.replace("</saml:Conditions>", f"</saml:Conditions><saml:Advice>{signed}</saml:Advice>", 1)
    response = idp.response(wrapped, in_response_to=started.request_id, destination=started.acs_url)
    assert_refused(await post_acs(client, response), "assertion_count")
    assert await users_with_email(settings, victim) == []


async def test_an_idp_error_status_is_refused(client: Client, idp: TestIdp) -> None:
    """The IdP answers with an error (the user cancelled, or is not assigned to the app): no assertion."""
    started = await start(client)
    response = idp.response(
        in_response_to=started.request_id,
        destination=started.acs_url,
        status="urn:oasis:names:tc:SAML:2.0:status:Responder",
    )
    assert_refused(await post_acs(client, response), "idp_error")


async def test_a_code_signs_in_to_its_own_org_once(client: Client, idp: TestIdp) -> None:
    """The grant behind the code carries the org whose ACS validated the assertion: the shared exchange
    (``POST /v1/sso/session``, no org in the request) can only sign in there, and only once, whichever
    protocol issued the code. The SAML-only exchange this branch had before the merge is gone."""
    started = await start(client)
    response = idp.response(
        valid_assertion(idp, started, new_email()), in_response_to=started.request_id, destination=started.acs_url
    )
    code = code_of((await post_acs(client, response)).text)
    old_route = await client.post(f"/v1/auth/sso/{ORG}/saml/session", json={"code": code})
    assert old_route.status_code in (404, 405), old_route.text
    session = await exchange(client, code)
    assert session.status_code == 200, session.text
    assert session.json()["org"] == ORG
    assert session.json()["protocol"] == "saml"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {session.json()['access_token']}"})
    demo = await client.get("/v1/me", headers=await admin_headers(client))
    assert me.json()["org_id"] == demo.json()["org_id"]  # the ACS's org, nothing else
    again = await exchange(client, code)
    assert again.status_code == 400  # used up: sign in again
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["type"].endswith("sso-code"), again.json()


async def test_a_response_that_is_not_saml_is_refused(client: Client, idp: TestIdp) -> None:
    await start(client)
    not_xml = base64.b64encode(b"this is not xml").decode()
    assert_refused(await post_acs(client, not_xml), "malformed_response")
    entity = base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    ).decode()
    assert_refused(await post_acs(client, entity), "malformed_response")
    assert_refused(await post_acs(client, ""), "missing_response")


async def test_a_body_that_is_not_a_form_is_refused(client: Client, idp: TestIdp) -> None:
    response = await client.post(f"/v1/auth/sso/{ORG}/saml/acs", json={"SAMLResponse": "x"})
    assert_refused(response, "bad_form", 415)


async def test_a_disabled_connection_refuses_login_and_acs(client: Client, settings: Settings, idp: TestIdp) -> None:
    started = await start(client)
    await configure(client, idp, await admin_headers(client), enabled=False)
    login = await client.get(f"/v1/auth/sso/{ORG}/saml/login", follow_redirects=False)
    assert_refused(login, "disabled", 403)
    email = new_email()
    response = idp.response(
        valid_assertion(idp, started, email), in_response_to=started.request_id, destination=started.acs_url
    )
    assert_refused(await post_acs(client, response), "disabled", 403)
    assert await users_with_email(settings, email) == []


async def test_an_org_without_a_connection_or_an_unknown_org(client: Client, idp: TestIdp) -> None:
    headers = await admin_headers(client)
    assert (await client.delete("/v1/admin/sso/saml", headers=headers)).status_code == 204
    assert_refused(await client.get(f"/v1/auth/sso/{ORG}/saml/login"), "not_configured", 404)
    assert_refused(await client.get("/v1/auth/sso/no-such-org/saml/login"), "unknown_org", 404)
