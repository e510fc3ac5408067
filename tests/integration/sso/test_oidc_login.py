"""OIDC single sign-on end to end (issue 16 §1, §3) against the suite's own provider
(tests/support/oidc_provider.py): login -> provider -> callback -> one-time code -> session, and every
refusal on the way (an error page with a stable code, a 4xx, never a session)."""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.config import Settings
from app.domain.sso.schemas import OidcLoginState
from tests.integration.sso.helpers import (
    code_of,
    configure,
    finish,
    identities,
    new_email,
    refused,
    roles_in,
    sign_in,
    start,
    user_by_email,
)
from tests.support.databases import owner_sql
from tests.support.oidc_provider import OidcProvider, Tamper, new_key

Client = AsyncTestClient[Litestar]


async def test_first_sign_in_provisions_the_user_with_the_mapped_role(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer, role_claim="groups", role_mapping={"lyceum-teachers": "instructor"})
    email, sub = new_email(), f"okta-{uuid.uuid4().hex[:8]}"
    issuer.sign_in_as(sub, email, name="Ada Lovelace", groups=["staff", "lyceum-teachers"])

    session = await sign_in(client, next_path="/courses")

    assert session["org"] == "demo"
    assert session["protocol"] == "oidc"
    assert session["user"]["role"] == "instructor"
    assert session["user"]["name"] == "Ada Lovelace"
    assert session["return_to"] == "/courses"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200, me.text
    [(user_id, password_hash)] = await user_by_email(settings, email)
    assert password_hash is None  # an SSO-only account: no password to guess
    assert await roles_in(settings, user_id) == ["instructor"]
    [(linked_user, _, linked_email)] = await identities(settings, sub)
    assert linked_user == user_id
    assert linked_email == email
    audit = await owner_sql(
        settings,
        "select action from audit_log where entity_id = :id and action in ('sso.user_provisioned', 'sso.oidc')",
        {"id": str(user_id)},
    )
    assert {row[0] for row in audit} == {"sso.user_provisioned", "sso.oidc"}
    # PKCE happened: the provider refused nothing and saw one code redeemed.
    assert issuer.token_errors == []
    assert issuer.count("token") == 1

    # The next sign-in is the same account; a role change at the provider reaches Lyceum.
    issuer.sign_in_as(sub, email, name="Ada Lovelace", groups=["staff"])
    again = await sign_in(client)
    assert again["user"]["id"] == str(user_id)
    assert again["user"]["role"] == "instructor"  # no mapped value: the member keeps the role they have
    issuer.sign_in_as(sub, email, groups=["lyceum-teachers", "other"])
    await configure(client, issuer, role_claim="groups", role_mapping={"other": "admin"})
    promoted = await sign_in(client)
    assert promoted["user"]["role"] == "admin"
    assert await roles_in(settings, user_id) == ["admin"]


async def _no_session_for(settings: Settings, email: str) -> None:
    assert await user_by_email(settings, email) == []


async def test_a_token_from_another_issuer_is_refused(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    issuer.tamper = Tamper(claims={"iss": "https://evil.example"})
    assert await refused(client, await start(client)) == (400, "wrong_issuer")
    await _no_session_for(settings, email)


async def test_a_token_for_another_client_is_refused(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    issuer.tamper = Tamper(claims={"aud": "someone-else"})
    assert await refused(client, await start(client)) == (400, "wrong_audience")
    # Several audiences including ours, but issued to another party (azp).
    issuer.tamper = Tamper(claims={"aud": [issuer.client_id, "someone-else"], "azp": "someone-else"})
    assert await refused(client, await start(client)) == (400, "wrong_azp")
    issuer.tamper = Tamper(claims={"aud": [issuer.client_id, "someone-else"]})
    assert await refused(client, await start(client)) == (400, "wrong_azp")
    await _no_session_for(settings, email)


async def test_an_expired_token_is_refused(client: Client, settings: Settings, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    now = int(time.time())
    issuer.tamper = Tamper(claims={"iat": now - 7200, "exp": now - 3600})
    assert await refused(client, await start(client)) == (400, "expired")
    issuer.tamper = Tamper(claims={"iat": now + 3600, "exp": now + 7200})
    assert await refused(client, await start(client)) == (400, "issued_in_future")
    await _no_session_for(settings, email)


async def test_a_replayed_state_is_refused(client: Client, settings: Settings, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    callback = await start(client)
    first = await finish(client, callback)
    assert first.status_code == 200, first.text
    assert await refused(client, callback) == (400, "state_unknown")
    # A state Lyceum never issued.
    forged = callback.path.replace(callback.state, "forged-state")
    assert await refused(client, type(callback)(path=forged, state="forged-state")) == (400, "state_unknown")
    # The one-time code is one-time too.
    code = code_of(first.text)
    assert (await client.post("/v1/sso/session", json={"code": code})).status_code == 200
    again = await client.post("/v1/sso/session", json={"code": code})
    assert again.status_code == 400
    assert again.json()["type"].endswith("/sso-code")


async def test_a_state_of_another_org_is_refused(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    callback = await start(client)
    other = callback.path.replace("/demo/", "/acme/")
    assert await refused(client, type(callback)(path=other, state=callback.state)) == (400, "state_mismatch")


async def test_a_nonce_mismatch_is_refused(client: Client, settings: Settings, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    issuer.tamper = Tamper(claims={"nonce": "a-nonce-of-another-login"})
    assert await refused(client, await start(client)) == (400, "nonce_mismatch")
    issuer.tamper = Tamper(drop=("nonce",))
    assert await refused(client, await start(client)) == (400, "missing_claim")
    await _no_session_for(settings, email)


async def test_a_bad_signature_or_algorithm_is_refused(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    stranger = new_key(kid=issuer.keys[0].kid)  # the published kid, someone else's key
    issuer.tamper = Tamper(key=stranger)
    assert await refused(client, await start(client)) == (400, "bad_signature")


async def test_an_unknown_kid_refetches_the_key_set(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    await sign_in(client)
    assert issuer.count("jwks") == 1
    await sign_in(client)
    assert issuer.count("jwks") == 1  # cached
    issuer.rotate()  # the provider signs with a key Lyceum has not seen yet
    session = await sign_in(client)
    assert session["access_token"]
    assert issuer.count("jwks") == 2
    # A kid the provider does not publish at all: refused (after at most one more fetch).
    issuer.tamper = Tamper(key=new_key())
    assert await refused(client, await start(client)) == (400, "unknown_kid")


async def test_an_unverified_email_never_links_to_an_existing_account(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    sub = f"s-{uuid.uuid4().hex[:8]}"
    issuer.sign_in_as(sub, "learner@demo.test", email_verified=False)
    status, code = await refused(client, await start(client))
    assert (status, code) == (403, "not_allowed")
    assert await identities(settings, sub) == []
    # Verified, the same address links to the existing member.
    issuer.sign_in_as(sub, "learner@demo.test", email_verified=True)
    session = await sign_in(client)
    [(learner_id, _)] = await user_by_email(settings, "learner@demo.test")
    assert session["user"]["id"] == str(learner_id)
    await owner_sql(settings, "delete from sso_identities where subject = :subject", {"subject": sub})


async def test_an_email_of_another_org_is_not_taken_over(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    sub = f"s-{uuid.uuid4().hex[:8]}"
    issuer.sign_in_as(sub, "learner@acme.test", email_verified=True)
    assert await refused(client, await start(client)) == (409, "conflict")
    assert await identities(settings, sub) == []


async def test_an_email_domain_not_allowed_is_refused(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer, allowed_domains=["university.test"])
    email = new_email("elsewhere.test")
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    assert await refused(client, await start(client)) == (403, "not_allowed")
    await _no_session_for(settings, email)
    allowed = new_email("university.test")
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", allowed)
    assert (await sign_in(client))["user"]["role"] == "learner"


async def test_a_disabled_connection_is_refused(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    started = await start(client)  # begun while enabled, finished after the admin turned it off
    await configure(client, issuer, enabled=False)
    assert await refused(client, started) == (403, "connection_disabled")
    response = await client.get("/v1/auth/sso/demo/login", follow_redirects=False)
    assert response.status_code == 403
    assert "turned off" in response.text
    providers = (await client.get("/v1/auth/sso/demo")).json()["providers"]
    assert [p for p in providers if p["protocol"] == "oidc"] == []
    await _no_session_for(settings, email)
    await configure(client, issuer)  # back on for the next tests


async def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    client: Client, settings: Settings, redis: Redis, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    callback = await start(client)
    key = f"{settings.redis_key_prefix}sso:oidc:state:{callback.state}"
    state = msgspec.json.decode(await redis.get(key), type=OidcLoginState)
    state.code_verifier = "x" * 64  # not the verifier the challenge was made from
    await redis.set(key, msgspec.json.encode(state), ex=60)
    assert await refused(client, callback) == (401, "token_refused")
    assert issuer.token_errors == ["pkce"]
    await _no_session_for(settings, email)


async def test_a_provider_error_and_missing_parameters_are_refused(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    response = await client.get("/v1/auth/sso/demo/callback", params={"error": "access_denied", "state": "x"})
    assert response.status_code == 401
    assert "access_denied" in response.text
    response = await client.get("/v1/auth/sso/demo/callback")
    assert response.status_code == 400
    response = await client.get("/v1/auth/sso/no-such-org/login", follow_redirects=False)
    assert response.status_code == 404


async def test_two_concurrent_first_sign_ins_make_one_user(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    email, sub = new_email(), f"s-{uuid.uuid4().hex[:8]}"
    issuer.sign_in_as(sub, email)
    first, second = await start(client), await start(client)
    pages = await asyncio.gather(finish(client, first), finish(client, second))
    assert [p.status_code for p in pages] == [200, 200]
    assert len(await user_by_email(settings, email)) == 1
    assert len(await identities(settings, sub)) == 1


async def test_a_thin_id_token_takes_the_email_from_userinfo(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer(id_token_has_email=False)
    await configure(client, issuer)
    email = new_email()
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", email)
    await sign_in(client)
    assert issuer.count("userinfo") == 1
    assert len(await user_by_email(settings, email)) == 1
