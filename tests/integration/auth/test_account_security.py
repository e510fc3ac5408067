"""Account security (issue 9, part 4): password change and admin reset end the other sessions and notify,
the web app's refresh cookie with CSRF, names and emails normalised, membership checked on every token.
Revocation across Redis loss and Redis failures: tests/integration/auth/test_revocation.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.asgi import create_app
from app.config import Settings
from app.db.engine import create_engine, owner_url
from app.lib.notify import SecurityNotice
from tests.support.accounts import Client, bearer, cookie_login, cookie_refresh, cookie_value, new_member, set_cookies
from tests.support.refresh_grace import age_rotation
from tests.support.stack import DEMO_PASSWORD, auth_headers, login, make_settings

NOTICES: list[SecurityNotice] = []  # filled by the hook below, which the `secured` app is configured with
NEW_PASSWORD = "a-brand-new-password-42"


def record_notice(notice: SecurityNotice) -> None:
    """LYCEUM_SECURITY_NOTIFY_HOOK target (a sync hook: Lyceum runs it in a thread)."""
    NOTICES.append(notice)


@pytest.fixture(scope="module")
async def secured(settings: Settings, seeded: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    """The app with a notification hook that records every security notice."""
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix + "acct:",
            Path(tmp_path_factory.mktemp("acct")),
            LYCEUM_SECURITY_NOTIFY_HOOK="tests.integration.auth.test_account_security:record_notice",
        )
    )
    async with AsyncTestClient(app=app) as client:
        yield client


async def sign_in(client: Client, user: dict[str, Any], password: str | None = None) -> dict[str, Any]:
    return await login(client, user["email"], "demo", password or user["password"])


async def as_owner(settings: Settings, statement: str, **params: Any) -> None:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(statement), params)
    await engine.dispose()


# --------------------------------------------------------------------------- password change


async def test_password_change_needs_the_current_password(secured: Client) -> None:
    user = await new_member(secured)
    tokens = await sign_in(secured, user)
    wrong = await secured.post(
        "/v1/me/password",
        headers=bearer(tokens),
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"] == [{"pointer": "#/current_password", "detail": "is not correct"}]
    missing = await secured.post("/v1/me/password", headers=bearer(tokens), json={"new_password": NEW_PASSWORD})
    assert missing.status_code == 422
    # Nothing changed: the old password still signs in, the session still works.
    await sign_in(secured, user)
    assert (await secured.get("/v1/me", headers=bearer(tokens))).status_code == 200


async def test_guessing_the_current_password_is_rate_limited(settings: Settings, tmp_path: Path) -> None:
    """A stolen access token must not become a password oracle: the login account limit (3 a minute here)."""
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix + "guess:",
            tmp_path,
            LYCEUM_RATE_LIMIT_LOGIN_USER="3/60s",
        )
    )
    async with AsyncTestClient(app=app) as client:
        user = await new_member(client)
        tokens = await sign_in(client, user)
        statuses = []
        for _ in range(4):
            response = await client.post(
                "/v1/me/password",
                headers=bearer(tokens),
                json={"current_password": f"guess-{uuid.uuid4().hex}", "new_password": NEW_PASSWORD},
            )
            statuses.append(response.status_code)
        assert statuses == [422, 422, 422, 429]


async def test_password_change_ends_every_other_session_and_keeps_this_one(secured: Client) -> None:
    user = await new_member(secured)
    mine, other = await sign_in(secured, user), await sign_in(secured, user)
    NOTICES.clear()
    changed = await secured.post(
        "/v1/me/password",
        headers=bearer(mine),
        json={"current_password": user["password"], "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert set(fresh) == {"access_token", "refresh_token", "expires_in", "token_type"}

    # This session continues on the new tokens; everything issued before is dead, here and elsewhere.
    assert (await secured.get("/v1/me", headers=bearer(fresh))).status_code == 200
    for stale in (mine, other):
        assert (await secured.get("/v1/me", headers=bearer(stale))).status_code == 401
        refresh = await secured.post("/v1/auth/refresh", json={"refresh_token": stale["refresh_token"]})
        assert refresh.status_code == 401
    rotated = await secured.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert rotated.status_code == 200, rotated.text

    bad = await secured.post(
        "/v1/auth/login", json={"email": user["email"], "password": user["password"], "org": "demo"}
    )
    assert bad.status_code == 401
    await sign_in(secured, user, NEW_PASSWORD)

    assert [(n.kind, n.email, n.user_id) for n in NOTICES] == [
        ("password_changed", user["email"], uuid.UUID(user["id"]))
    ]
    admin = await auth_headers(secured, "admin@demo.test", "demo")
    audit = await secured.get("/v1/audit-log", params={"action": "user.password_changed"}, headers=admin)
    assert any(entry["entity_id"] == user["id"] for entry in audit.json()["items"])


async def test_password_change_ends_sessions_in_the_users_other_orgs(secured: Client, settings: Settings) -> None:
    user = await new_member(secured)
    await as_owner(
        settings,
        "insert into memberships (id, org_id, user_id, role, created_at, updated_at) select gen_random_uuid(), "
        "id, :user, 'learner', now(), now() from organizations where slug = 'acme'",
        user=user["id"],
    )
    demo = await sign_in(secured, user)
    acme = await login(secured, user["email"], "acme", user["password"])
    changed = await secured.post(
        "/v1/me/password",
        headers=bearer(demo),
        json={"current_password": user["password"], "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    assert (await secured.get("/v1/me", headers=bearer(acme))).status_code == 401
    assert (await secured.post("/v1/auth/refresh", json={"refresh_token": acme["refresh_token"]})).status_code == 401


# --------------------------------------------------------------------------- admin reset


async def test_admin_reset_ends_all_sessions_and_notifies(secured: Client) -> None:
    user = await new_member(secured)
    session = await sign_in(secured, user)
    admin = await auth_headers(secured, "admin@demo.test", "demo")
    NOTICES.clear()
    reset = await secured.post(f"/v1/users/{user['id']}/password", headers=admin, json={"new_password": NEW_PASSWORD})
    assert reset.status_code == 204, reset.text
    assert (await secured.get("/v1/me", headers=bearer(session))).status_code == 401
    assert (await secured.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})).status_code == 401
    await sign_in(secured, user, NEW_PASSWORD)
    assert [(n.kind, n.email) for n in NOTICES] == [("password_reset", user["email"])]
    assert NOTICES[0].actor_id != NOTICES[0].user_id

    own = (await secured.get("/v1/me", headers=admin)).json()["user_id"]
    self_reset = await secured.post(f"/v1/users/{own}/password", headers=admin, json={"new_password": NEW_PASSWORD})
    assert self_reset.status_code == 403  # their own goes through /v1/me/password, which asks for the current one
    acme_admin = await auth_headers(secured, "admin@acme.test", "acme")
    across = await secured.post(
        f"/v1/users/{user['id']}/password", headers=acme_admin, json={"new_password": NEW_PASSWORD}
    )
    assert across.status_code == 404
    instructor = await auth_headers(secured, "instructor@demo.test", "demo")
    by_staff = await secured.post(
        f"/v1/users/{user['id']}/password", headers=instructor, json={"new_password": NEW_PASSWORD}
    )
    assert by_staff.status_code == 403


async def test_a_failing_hook_does_not_undo_the_change(client: Client, settings: Settings, tmp_path: Path) -> None:
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix,
            tmp_path,
            LYCEUM_SECURITY_NOTIFY_HOOK="tests.integration.auth.test_account_security:no_such_hook",
        )
    )
    async with AsyncTestClient(app=app) as broken:
        user = await new_member(broken)
        tokens = await sign_in(broken, user)
        changed = await broken.post(
            "/v1/me/password",
            headers=bearer(tokens),
            json={"current_password": user["password"], "new_password": NEW_PASSWORD},
        )
        assert changed.status_code == 200, changed.text
        await sign_in(broken, user, NEW_PASSWORD)


# --------------------------------------------------------------------------- deactivation and membership


async def test_reactivation_does_not_revive_old_tokens(secured: Client) -> None:
    user = await new_member(secured)
    tokens = await sign_in(secured, user)
    admin = await auth_headers(secured, "admin@demo.test", "demo")
    for active in (False, True):
        response = await secured.patch(f"/v1/users/{user['id']}", headers=admin, json={"is_active": active})
        assert response.status_code == 200
    assert (await secured.get("/v1/me", headers=bearer(tokens))).status_code == 401
    assert (await secured.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    await sign_in(secured, user)  # a new login works again


async def _until(check: Any, deadline: float = 60.0) -> None:
    """Poll an async condition until it holds (generous deadline: no timing is asserted)."""
    end = time.monotonic() + deadline
    while not await check():
        assert time.monotonic() < end, "condition not reached before the deadline"
        await asyncio.sleep(0.2)


async def test_membership_is_checked_on_access_and_refresh(settings: Settings, tmp_path: Path) -> None:
    """Changes made outside the API (no cache invalidation) count within LYCEUM_AUTH_CACHE_SECONDS."""
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix + "member:",
            tmp_path,
            LYCEUM_AUTH_CACHE_SECONDS="1",
        )
    )
    async with AsyncTestClient(app=app) as client:
        user = await new_member(client, roles=("instructor", "learner"))
        tokens = await sign_in(client, user)
        assert (await client.get("/v1/users", headers=bearer(tokens))).status_code == 200

        # Demoted: the token still says instructor, but staff routes refuse within the cache window.
        await as_owner(
            settings, "delete from memberships where user_id = :user and role = 'instructor'", user=user["id"]
        )

        async def demoted() -> bool:
            return (await client.get("/v1/users", headers=bearer(tokens))).status_code == 403

        await _until(demoted)
        assert (await client.get("/v1/me", headers=bearer(tokens))).status_code == 200

        # No role left in the org: the access token and the refresh token stop working.
        await as_owner(settings, "delete from memberships where user_id = :user", user=user["id"])

        async def removed() -> bool:
            return (await client.get("/v1/me", headers=bearer(tokens))).status_code == 401

        await _until(removed)
        refresh = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401


# --------------------------------------------------------------------------- the web app's cookie


async def test_cookie_login_keeps_the_refresh_token_out_of_reach_of_scripts(client: Client) -> None:
    user = await new_member(client)
    response = await client.post(
        "/v1/auth/login",
        json={"email": user["email"], "password": user["password"], "org": "demo", "refresh_mode": "cookie"},
    )
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert set(body) == {"access_token", "expires_in", "token_type", "csrf_token"}
    cookies = set_cookies(response)
    refresh = cookies["lyceum_refresh"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/v1/auth/refresh", "max-age=1209600"):
        assert attribute in refresh, refresh
    csrf = cookies["lyceum_csrf"].lower()
    assert "httponly" not in csrf  # the web app reads it to send it back as a header
    for attribute in ("secure", "samesite=strict", "path=/"):
        assert attribute in csrf, csrf
    assert cookie_value(cookies["lyceum_csrf"]) == body["csrf_token"]
    assert (await client.get("/v1/me", headers=bearer(body))).status_code == 200


async def test_cookie_refresh_needs_the_csrf_token_and_rotates(client: Client, settings: Settings) -> None:
    user = await new_member(client)
    _, refresh, csrf = await cookie_login(client, user)
    assert (await cookie_refresh(client, refresh, None)).status_code == 403
    forged = await cookie_refresh(client, refresh, "forged-" + csrf[7:])
    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers  # a forged request cannot sign the victim out either

    rotated = await cookie_refresh(client, refresh, csrf)
    assert rotated.status_code == 200, rotated.text
    assert "refresh_token" not in rotated.json()
    assert rotated.json()["csrf_token"] == csrf  # one CSRF token per login: tabs agree on it
    new_refresh = cookie_value(set_cookies(rotated)["lyceum_refresh"])
    assert new_refresh != refresh
    assert (await client.get("/v1/me", headers=bearer(rotated.json()))).status_code == 200

    # The old cookie again, after the grace window: reuse. The family ends, and the answer expires the
    # browser's cookies.
    await age_rotation(settings.database_url, refresh)
    reuse = await cookie_refresh(client, refresh, csrf)
    assert reuse.status_code == 401
    assert reuse.headers["content-type"].startswith("application/problem+json")
    cleared = set_cookies(reuse)
    assert cookie_value(cleared["lyceum_refresh"]) == ""
    assert "max-age=0" in cleared["lyceum_refresh"].lower()
    assert (await cookie_refresh(client, new_refresh, csrf)).status_code == 401


async def test_logout_clears_the_cookie_and_ends_the_session(client: Client) -> None:
    user = await new_member(client)
    body, refresh, csrf = await cookie_login(client, user)
    out = await client.post("/v1/auth/logout", headers=bearer(body))
    assert out.status_code == 204
    cleared = set_cookies(out)
    assert cookie_value(cleared["lyceum_refresh"]) == ""
    assert cookie_value(cleared["lyceum_csrf"]) == ""
    assert (await cookie_refresh(client, refresh, csrf)).status_code == 401


async def test_refresh_without_any_token_is_401(client: Client) -> None:
    for kwargs in ({}, {"json": {}}, {"headers": {"X-CSRF-Token": "x"}}):
        response = await client.post("/v1/auth/refresh", **kwargs)
        assert response.status_code == 401, response.text
    garbage = await cookie_refresh(client, "not-a-jwt", "x")
    assert garbage.status_code == 401
    assert cookie_value(set_cookies(garbage)["lyceum_refresh"]) == ""


async def test_password_change_in_cookie_mode_moves_the_session_cookie(client: Client) -> None:
    user = await new_member(client)
    body, _, csrf = await cookie_login(client, user)
    changed = await client.post(
        "/v1/me/password",
        headers=bearer(body),
        json={"current_password": user["password"], "new_password": NEW_PASSWORD, "refresh_mode": "cookie"},
    )
    assert changed.status_code == 200, changed.text
    assert "refresh_token" not in changed.json()
    cookies = set_cookies(changed)
    assert (await cookie_refresh(client, cookie_value(cookies["lyceum_refresh"]), csrf)).status_code == 200


# --------------------------------------------------------------------------- names and emails


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("\u200b\u200c\u200d", "invisible"),
        ("\u202e\u2066", "invisible"),
        ("<script>alert(1)</script>", "'<' or '>'"),
        ("Ada\nLovelace", "invisible"),
        ("   ", "letter or digit"),
    ],
)
async def test_names_that_hide_or_inject_are_refused(client: Client, name: str, detail: str) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": f"n-{uuid.uuid4().hex[:8]}@demo.test", "name": name, "roles": ["learner"]},
    )
    assert created.status_code == 422, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert created.json()["errors"][0]["pointer"] == "#/name"
    assert detail in created.json()["errors"][0]["detail"]
    user = await new_member(client)
    tokens = await sign_in(client, user)
    edited = await client.patch(f"/v1/users/{user['id']}", headers=bearer(tokens), json={"name": name})
    assert edited.status_code == 422
    assert (await client.get("/v1/me", headers=bearer(tokens))).json()["name"] == "Pat Person"  # unchanged


async def test_names_and_emails_are_stored_normalised(client: Client) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    local = f"wide{uuid.uuid4().hex[:6]}"
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in local)  # full-width forms
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={
            "email": f"{wide}@Demo.Test",
            "name": "  \uff2a\uff4f\uff48\uff4e\u00a0 Doe ",
            "roles": ["learner"],
            "password": DEMO_PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == f"{local.lower()}@demo.test"
    assert created.json()["name"] == "John Doe"
    await login(client, f"{wide}@demo.test", "demo")  # the full-width form signs in too
    await login(client, f"{local.upper()}@DEMO.TEST", "demo")


async def test_look_alike_emails_are_refused_unless_confirmed(client: Client) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    tag = uuid.uuid4().hex[:6]
    body = {"email": f"\u0430dmin{tag}@demo.test", "name": "Not The Admin", "roles": ["learner"]}
    refused = await client.post("/v1/users", headers=admin, json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["pointer"] == "#/email"
    assert "Cyrillic and Latin" in error["detail"]
    hidden = await client.post(
        "/v1/users", headers=admin, json={**body, "email": f"admin\u200b{tag}@demo.test", "name": "Hidden"}
    )
    assert hidden.status_code == 422
    confirmed = await client.post("/v1/users", headers=admin, json={**body, "accept_mixed_script_email": True})
    assert confirmed.status_code == 201, confirmed.text
    audit = await client.get("/v1/audit-log", params={"action": "user.created"}, headers=admin)
    entry = next(e for e in audit.json()["items"] if e["entity_id"] == confirmed.json()["id"])
    assert entry["after"]["email_flags"] == ["mixed_script"]
