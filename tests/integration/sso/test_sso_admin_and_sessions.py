"""SSO administration (issue 16 §1) and SSO sessions (§3): the OIDC connection API (write-only sealed secret,
issuer checked on save, audited), the public providers list, "SSO required" (members refused a password,
admins keep theirs: break-glass), and SSO sessions refreshing and ending like password sessions."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.integration.sso.helpers import configure, new_email, sign_in
from tests.support.databases import owner_sql
from tests.support.oidc_provider import OidcProvider
from tests.support.stack import DEMO_PASSWORD, auth_headers

Client = AsyncTestClient[Litestar]


async def test_the_connection_api_keeps_the_secret_sealed_and_write_only(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    saved = await configure(
        client, issuer, display_name="University Login", allowed_domains=["@University.test"], scopes=["email"]
    )
    assert saved["has_client_secret"] is True
    assert "client_secret" not in saved
    assert saved["allowed_domains"] == ["university.test"]
    assert saved["scopes"] == ["openid", "email"]
    assert saved["redirect_uri"].endswith("/v1/auth/sso/demo/callback")
    [(sealed,)] = await owner_sql(
        settings, "select client_secret_sealed from sso_connections where id = :id", {"id": saved["id"]}
    )
    assert issuer.client_secret.encode() not in bytes(sealed)
    admin = await auth_headers(client, "admin@demo.test", "demo")
    fetched = (await client.get("/v1/admin/sso/oidc", headers=admin)).json()
    assert fetched["has_client_secret"] is True
    assert "client_secret" not in fetched
    # Leaving the secret out keeps it: sign-in still authenticates at the token endpoint.
    body = {"display_name": "University Login", "issuer": issuer.url, "client_id": issuer.client_id}
    assert (await client.put("/v1/admin/sso/oidc", json=body, headers=admin)).status_code == 200
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email("university.test"))
    await sign_in(client)
    audit = await owner_sql(
        settings,
        "select action, after::text from audit_log where entity_id = :id order by created_at",
        {"id": saved["id"]},
    )
    assert {row[0] for row in audit} >= {"sso.oidc_updated"}
    assert all(issuer.client_secret not in str(row[1]) for row in audit)


async def test_an_issuer_whose_discovery_fails_is_refused_on_save(client: Client, oidc_provider: OidcProvider) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    body = {"display_name": "Typo", "issuer": f"{oidc_provider.base}/i/no-such-issuer", "client_id": "x"}
    response = await client.put("/v1/admin/sso/oidc", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert "issuer" in response.json()["detail"].lower()
    body["issuer"] = "ftp://example.test"
    assert (await client.put("/v1/admin/sso/oidc", json=body, headers=admin)).status_code == 422
    # The discovery document must name the issuer it was fetched for.
    issuer = oidc_provider.new_issuer()
    body["issuer"] = issuer.url + "/"
    assert (await client.put("/v1/admin/sso/oidc", json=body, headers=admin)).status_code == 422


async def test_the_public_providers_list(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer, display_name="Campus ID")
    answer = (await client.get("/v1/auth/sso/demo")).json()
    assert {"protocol": "oidc", "display_name": "Campus ID", "login_url": "/v1/auth/sso/demo/login"} in answer[
        "providers"
    ]
    assert (await client.get("/v1/auth/sso/no-such-org")).json() == {"providers": [], "sso_required": False}
    assert (await client.get("/v1/auth/sso/Bad_Slug")).status_code == 422


async def test_delete_removes_the_connection(client: Client, settings: Settings, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    saved = await configure(client, issuer, org="acme")
    admin = await auth_headers(client, "admin@acme.test", "acme")
    assert (await client.delete("/v1/admin/sso/oidc", headers=admin)).status_code == 204
    assert (await client.get("/v1/admin/sso/oidc", headers=admin)).status_code == 404
    assert (await client.delete("/v1/admin/sso/oidc", headers=admin)).status_code == 404
    assert (await client.get("/v1/auth/sso/acme/login", follow_redirects=False)).status_code == 404
    rows = await owner_sql(settings, "select action from audit_log where entity_id = :id", {"id": saved["id"]})
    assert "sso.oidc_deleted" in {row[0] for row in rows}


async def test_sso_required_refuses_member_passwords_but_not_the_admins(
    client: Client, settings: Settings, oidc_provider: OidcProvider
) -> None:
    admin = await auth_headers(client, "admin@acme.test", "acme")
    # Without a connection there would be no way in: refused.
    await client.delete("/v1/admin/sso/oidc", headers=admin)
    refused = await client.put("/v1/admin/sso/settings", json={"sso_required": True}, headers=admin)
    assert refused.status_code == 409
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer, org="acme")
    try:
        response = await client.put("/v1/admin/sso/settings", json={"sso_required": True}, headers=admin)
        assert response.status_code == 200, response.text
        assert (await client.get("/v1/admin/sso/settings", headers=admin)).json() == {"sso_required": True}
        assert (await client.get("/v1/auth/sso/acme")).json()["sso_required"] is True
        login = {"email": "learner@acme.test", "password": DEMO_PASSWORD, "org": "acme"}
        blocked = await client.post("/v1/auth/login", json=login)
        assert blocked.status_code == 403
        assert blocked.json()["type"].endswith("/sso-required")
        assert "single sign-on" in blocked.json()["detail"]
        # A wrong password still says only "not correct": SSO-required reveals nothing to a guesser.
        wrong = await client.post("/v1/auth/login", json={**login, "password": "not-the-password"})
        assert wrong.status_code == 401
        # Break-glass: the admin's password still works.
        admin_login = {"email": "admin@acme.test", "password": DEMO_PASSWORD, "org": "acme"}
        assert (await client.post("/v1/auth/login", json=admin_login)).status_code == 200
        # Members come in through SSO.
        issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
        assert (await sign_in(client, org="acme"))["org"] == "acme"
        # Other orgs are unaffected.
        assert (
            await client.post("/v1/auth/login", json={**login, "email": "learner@demo.test", "org": "demo"})
        ).status_code == 200
    finally:
        await client.put("/v1/admin/sso/settings", json={"sso_required": False}, headers=admin)
    rows = await owner_sql(settings, "select count(*) from audit_log where action = 'sso.settings_updated'")
    assert rows[0][0] >= 2


async def test_an_sso_session_refreshes_and_logs_out_like_a_password_session(
    client: Client, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    session = await sign_in(client)
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert pair["refresh_token"] != session["refresh_token"]
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/v1/me", headers=bearer)).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=bearer)).status_code == 204
    assert (await client.get("/v1/me", headers=bearer)).status_code == 401
    after = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert after.status_code == 401


async def test_the_web_app_gets_a_cookie_session(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    session = await sign_in(client, refresh_mode="cookie")
    assert "refresh_token" not in session
    assert session["csrf_token"]
    assert client.cookies.get("lyceum_refresh")
    client.cookies.clear()


async def test_an_unsafe_return_path_falls_back_to_home(client: Client, oidc_provider: OidcProvider) -> None:
    issuer = oidc_provider.new_issuer()
    await configure(client, issuer)
    issuer.sign_in_as(f"s-{uuid.uuid4().hex[:8]}", new_email())
    for unsafe in ("//evil.example/x", "https://evil.example", "/\\\\evil.example"):
        assert (await sign_in(client, next_path=unsafe))["return_to"] == "/"


async def test_bad_input_is_a_4xx_never_a_5xx(client: Client) -> None:
    admin = await auth_headers(client, "admin@acme.test", "acme")
    bodies: list[object] = [
        {},
        {"display_name": "x", "issuer": "http://127.0.0.1:99999/", "client_id": "x"},
        {"display_name": "x", "issuer": "http://\u00e9\u00e9.test/" + "a" * 900, "client_id": "x"},
        {"display_name": "x", "issuer": "https://idp.test", "client_id": "x", "role_mapping": {"a": "king"}},
        {"display_name": "x", "issuer": "https://idp.test", "client_id": "x", "allowed_domains": ["not a domain"]},
        {"display_name": "x", "issuer": "https://idp.test", "client_id": "x", "unknown": 1},
        [],
    ]
    for body in bodies:
        response = await client.put("/v1/admin/sso/oidc", json=body, headers=admin)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
    for body in [{}, {"code": "a" * 500}, {"code": "not valid!"}, {"code": "x", "refresh_mode": "carrier-pigeon"}]:
        response = await client.post("/v1/sso/session", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
    huge = {"code": "c" * 10_000, "state": "s" * 10_000}
    provider_error = {"error": "<b>denied</b>", "state": "s", "error_description": "<b>x</b>"}
    for params in [huge, {"state": "s" * 300, "code": "c"}, provider_error]:
        response = await client.get("/v1/auth/sso/acme/callback", params=params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert "<b>" not in response.text
    response = await client.get("/v1/auth/sso/acme/login", params={"next": "n" * 1000}, follow_redirects=False)
    assert 400 <= response.status_code < 500
