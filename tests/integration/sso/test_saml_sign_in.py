"""SAML sign-in through the real endpoints against the suite's IdP (tests/support/saml_idp.py): SP metadata,
just-in-time provisioning with role mapping, the one-time code and the session it gives, linking by verified email."""

from __future__ import annotations

import uuid

import pytest
from lxml import etree

from app.config import Settings
from tests.integration.sso.saml_helpers import (
    ORG,
    Client,
    admin_headers,
    assert_refused,
    audit_actions,
    code_of,
    configure,
    exchange,
    new_email,
    post_acs,
    sign_in,
    start,
    users_with_email,
)
from tests.support.databases import owner_sql
from tests.support.saml_idp import PERSISTENT_FORMAT, TestIdp


@pytest.fixture
async def idp(client: Client) -> TestIdp:
    provider = TestIdp()
    await configure(client, provider, await admin_headers(client))
    return provider


async def test_sp_metadata_is_public_and_names_the_acs(client: Client, settings: Settings) -> None:
    response = await client.get(f"/v1/auth/sso/{ORG}/saml/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(response.content)
    base = f"{settings.base_url}/v1/auth/sso/{ORG}/saml"
    assert root.get("entityID") == f"{base}/metadata"
    md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    descriptor = root.find(f"{md}SPSSODescriptor")
    assert descriptor is not None
    assert descriptor.get("WantAssertionsSigned") == "true"
    acs = descriptor.find(f"{md}AssertionConsumerService")
    assert acs is not None
    assert acs.get("Location") == f"{base}/acs"
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    unknown = await client.get("/v1/auth/sso/no-such-org/saml/metadata")
    assert unknown.status_code == 404


async def test_login_redirects_to_the_idp_with_an_authn_request(
    client: Client, idp: TestIdp, settings: Settings
) -> None:
    started = await start(client)
    assert started.acs_url == f"{settings.base_url}/v1/auth/sso/{ORG}/saml/acs"
    response = await client.get(f"/v1/auth/sso/{ORG}/saml/login", follow_redirects=False)
    assert response.headers["location"].startswith(idp.sso_url + "?SAMLRequest=")
    assert response.headers["cache-control"] == "no-store"


async def test_a_valid_response_provisions_maps_the_role_and_signs_in(
    client: Client, idp: TestIdp, settings: Settings
) -> None:
    email = new_email()
    session = await sign_in(
        client, idp, name_id=email, attributes={"groups": ["staff", "teachers"], "displayName": ["Ada Lovelace"]}
    )
    assert session["org"] == ORG
    assert session["user"]["role"] == "instructor"
    assert session["user"]["name"] == "Ada Lovelace"
    assert session["return_to"] == "/"
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["user_id"] == session["user"]["id"]
    # The same JWT + rotating refresh pair as a password sign-in.
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    users = await users_with_email(settings, email)
    assert [str(u[0]) for u in users] == [session["user"]["id"]]
    assert "sso.user_provisioned" in await audit_actions(settings, session["user"]["id"])
    signed_in = await owner_sql(
        settings,
        "select count(*) from audit_log where entity_id = :id and action = 'sso.saml'",
        {"id": session["user"]["id"]},
    )
    assert signed_in[0][0] >= 1


async def test_the_next_sign_in_reuses_the_identity_and_follows_the_idps_role(client: Client, idp: TestIdp) -> None:
    email = new_email()
    first = await sign_in(client, idp, name_id=email, attributes={"groups": ["teachers"]})
    second = await sign_in(client, idp, name_id=email, attributes={"groups": ["it-admins"]})
    assert second["user"]["id"] == first["user"]["id"]
    assert second["user"]["role"] == "admin"
    third = await sign_in(client, idp, name_id=email, attributes={"groups": ["students"]})  # nothing maps
    assert third["user"]["role"] == "admin"  # an admin is never demoted by a missing claim (break-glass)


async def test_persistent_nameid_with_an_email_attribute(client: Client, idp: TestIdp, settings: Settings) -> None:
    subject = f"opaque-{uuid.uuid4().hex}"
    email = new_email("attr")
    session = await sign_in(
        client,
        idp,
        name_id=subject,
        name_id_format=PERSISTENT_FORMAT,
        attributes={"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": [email]},
    )
    assert session["user"]["role"] == "learner"  # no group: the default role
    rows = await owner_sql(
        settings, "select subject, email from sso_identities where user_id = :u", {"u": session["user"]["id"]}
    )
    assert [(str(r[0]), str(r[1])) for r in rows] == [(subject, email)]


async def test_the_code_is_single_use_and_carries_the_return_path(client: Client, idp: TestIdp) -> None:
    started = await start(client, next_path="/courses")
    assertion = idp.assertion(
        in_response_to=started.request_id, audience=started.sp_entity_id, recipient=started.acs_url, name_id=new_email()
    )
    page = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url)
    )
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "access_token" not in page.text
    assert "refresh_token" not in page.text
    code = code_of(page.text)
    first = await exchange(client, code)
    assert first.status_code == 200
    assert first.json()["return_to"] == "/courses"
    again = await exchange(client, code)
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_the_web_app_page_takes_the_code_as_it_does_oidcs(client: Client, idp: TestIdp) -> None:
    """The browser path: the ACS answers the shared hand-off page (the one OIDC's callback answers), which
    sends the browser to the web app's ``/sso/complete?code=…``; that page (frontend/src/lib/sso.ts) posts
    the code to ``POST /v1/sso/session`` with ``refresh_mode: "cookie"`` and gets a cookie session."""
    started = await start(client, next_path="/learn")
    assertion = idp.assertion(
        in_response_to=started.request_id, audience=started.sp_entity_id, recipient=started.acs_url, name_id=new_email()
    )
    page = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url)
    )
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    session = await exchange(client, code_of(page.text), refresh_mode="cookie")  # code_of: /sso/complete only
    try:
        assert session.status_code == 200, session.text
        body = session.json()
        assert body["protocol"] == "saml"
        assert body["return_to"] == "/learn"
        assert "refresh_token" not in body
        assert body["csrf_token"]
        assert client.cookies.get("lyceum_refresh")
    finally:
        client.cookies.clear()


async def test_an_unsafe_return_path_becomes_home(client: Client, idp: TestIdp) -> None:
    started = await start(client, next_path="//evil.example/steal")
    assertion = idp.assertion(
        in_response_to=started.request_id, audience=started.sp_entity_id, recipient=started.acs_url, name_id=new_email()
    )
    page = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url)
    )
    session = await exchange(client, code_of(page.text))
    assert session.json()["return_to"] == "/"


async def test_an_existing_account_links_only_when_the_connection_trusts_idp_emails(
    client: Client, settings: Settings
) -> None:
    idp = TestIdp()
    headers = await admin_headers(client)
    await configure(client, idp, headers)  # email_verified defaults to false
    started = await start(client)
    assertion = idp.assertion(
        in_response_to=started.request_id,
        audience=started.sp_entity_id,
        recipient=started.acs_url,
        name_id="instructor@demo.test",
    )
    refused = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url)
    )
    assert_refused(refused, "sso-not-allowed", 403)
    await configure(client, idp, headers, email_verified=True)
    session = await sign_in(client, idp, name_id="instructor@demo.test")
    existing = await users_with_email(settings, "instructor@demo.test")
    assert session["user"]["id"] == str(existing[0][0])
    assert session["user"]["role"] == "instructor"  # kept: no group value maps


async def test_an_email_domain_outside_the_allowed_ones_is_refused(
    client: Client, idp: TestIdp, settings: Settings
) -> None:
    email = f"someone-{uuid.uuid4().hex[:8]}@elsewhere.test"
    started = await start(client)
    assertion = idp.assertion(
        in_response_to=started.request_id, audience=started.sp_entity_id, recipient=started.acs_url, name_id=email
    )
    response = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url)
    )
    assert_refused(response, "sso-not-allowed", 403)
    assert await users_with_email(settings, email) == []
