"""Login, refresh rotation with reuse detection, logout, /v1/me and ownership rules."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.config import Settings
from app.db.engine import create_engine, owner_url
from tests.support.refresh_grace import age_rotation
from tests.support.stack import auth_headers, login

Client = AsyncTestClient[Litestar]


async def test_login_contract(client: Client) -> None:
    tokens = await login(client, "learner@demo.test", "demo")
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 0


async def test_wrong_password_and_unknown_user_get_the_same_401(client: Client) -> None:
    answers = []
    for body in (
        {"email": "learner@demo.test", "password": "nope-nope-nope", "org": "demo"},
        {"email": "ghost@demo.test", "password": "nope-nope-nope", "org": "demo"},
        {"email": "learner@demo.test", "password": "lyceum-demo", "org": "no-such-org"},
        # A real account of another org is unknown here.
        {"email": "learner@acme.test", "password": "lyceum-demo", "org": "demo"},
    ):
        response = await client.post("/v1/auth/login", json=body)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        answers.append((problem["type"], problem["title"], problem["detail"]))
    assert len(set(answers)) == 1


async def test_me_contract(client: Client) -> None:
    response = await client.get("/v1/me", headers=await auth_headers(client, "learner@demo.test", "demo"))
    assert response.status_code == 200
    me = response.json()
    assert set(me) == {"user_id", "org_id", "org", "email", "name", "roles"}
    assert me["org"] == "demo"
    assert me["email"] == "learner@demo.test"
    assert me["roles"] == ["learner"]


async def test_missing_or_bad_token_is_401_problem(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}):
        response = await client.get("/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_refresh_rotates_and_reuse_revokes_the_family(client: Client, settings: Settings) -> None:
    first = await login(client, "learner@demo.test", "demo")
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    ).status_code == 200

    # The old refresh token comes back after the grace window (tests/integration/auth/test_refresh_grace.py covers tabs
    # refreshing together): treat as theft, revoke everything of this login.
    await age_rotation(settings.database_url, first["refresh_token"])
    reuse = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401


async def test_logout_revokes_access_and_refresh(client: Client) -> None:
    tokens = await login(client, "learner@demo.test", "demo")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/v1/me", headers=headers)).status_code == 401
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    # Other logins of the same user are unaffected.
    other = await auth_headers(client, "learner@demo.test", "demo")
    assert (await client.get("/v1/me", headers=other)).status_code == 200


async def test_access_token_is_not_a_refresh_token(client: Client) -> None:
    tokens = await login(client, "learner@demo.test", "demo")
    response = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


async def test_ownership_users_edit_themselves_admins_edit_anyone(client: Client) -> None:
    learner = await auth_headers(client, "learner@demo.test", "demo")
    admin = await auth_headers(client, "admin@demo.test", "demo")
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    learner_id = (await client.get("/v1/me", headers=learner)).json()["user_id"]
    instructor_id = (await client.get("/v1/me", headers=instructor)).json()["user_id"]

    own = await client.patch(f"/v1/users/{learner_id}", json={"name": "Lea Learner"}, headers=learner)
    assert own.status_code == 200
    assert own.json()["name"] == "Lea Learner"
    other = await client.patch(f"/v1/users/{instructor_id}", json={"name": "X"}, headers=learner)
    assert other.status_code == 403
    self_activate = await client.patch(f"/v1/users/{learner_id}", json={"is_active": True}, headers=learner)
    assert self_activate.status_code == 403
    by_admin = await client.patch(f"/v1/users/{instructor_id}", json={"name": "Ines Instructor"}, headers=admin)
    assert by_admin.status_code == 200
    by_instructor = await client.patch(f"/v1/users/{learner_id}", json={"name": "Y"}, headers=instructor)
    assert by_instructor.status_code == 403

    audit = await client.get("/v1/audit-log", params={"action": "user.updated"}, headers=admin)
    assert audit.status_code == 200
    entry = audit.json()["items"][0]
    assert entry["before"] is not None
    assert entry["after"] is not None


async def test_admin_of_another_org_cannot_see_or_edit_users(client: Client) -> None:
    learner = await auth_headers(client, "learner@demo.test", "demo")
    learner_id = (await client.get("/v1/me", headers=learner)).json()["user_id"]
    acme_admin = await auth_headers(client, "admin@acme.test", "acme")
    assert (await client.get(f"/v1/users/{learner_id}", headers=acme_admin)).status_code == 404
    patch = await client.patch(f"/v1/users/{learner_id}", json={"name": "pwned"}, headers=acme_admin)
    assert patch.status_code == 404


async def test_deactivation_ends_the_users_logins(client: Client) -> None:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"leaver-{uuid.uuid4().hex[:8]}@demo.test"
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Lee Leaver", "roles": ["learner"], "password": "a-long-password-1"},
    )
    assert created.status_code == 201, created.text
    tokens = await login(client, email, "demo", password="a-long-password-1")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    off = await client.patch(f"/v1/users/{created.json()['id']}", headers=admin, json={"is_active": False})
    assert off.status_code == 200
    assert (await client.get("/v1/me", headers=headers)).status_code == 401
    refresh = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_admins_cannot_take_over_people_of_other_orgs(client: Client, settings: Settings) -> None:
    demo_admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"shared-{uuid.uuid4().hex[:8]}@demo.test"
    created = await client.post(
        "/v1/users", headers=demo_admin, json={"email": email, "name": "Sam Shared", "roles": ["learner"]}
    )
    user_id = created.json()["id"]
    # The same person also joins acme (done as the owner, as an invitation flow would).
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    async with engine.begin() as conn:
        acme = await conn.scalar(text("select id from organizations where slug = 'acme'"))
        await conn.execute(
            text(
                "insert into memberships (id, org_id, user_id, role, created_at, updated_at) "
                "values (gen_random_uuid(), :org, :user, 'learner', now(), now())"
            ),
            {"org": acme, "user": user_id},
        )
    await engine.dispose()
    acme_admin = await auth_headers(client, "admin@acme.test", "acme")
    for headers in (demo_admin, acme_admin):
        response = await client.patch(f"/v1/users/{user_id}", headers=headers, json={"name": "Taken Over"})
        assert response.status_code == 403, response.text
        reset = await client.post(
            f"/v1/users/{user_id}/password", headers=headers, json={"new_password": "an-admin-chosen-pass"}
        )
        assert reset.status_code == 403, reset.text
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    instructor_id = (await client.get("/v1/me", headers=instructor)).json()["user_id"]
    # Passwords no longer change through PATCH: POST /v1/me/password asks for the current one.
    password = await client.patch(
        f"/v1/users/{instructor_id}", headers=demo_admin, json={"password": "an-admin-chosen-pass"}
    )
    assert password.status_code == 422
    assert "password" in password.text, password.text
