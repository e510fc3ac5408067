"""People: the member list (search, paging, last seen), role changes and (de)activation, the org's last
active admin, the audit log, and another org's admin kept out (RLS)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import AuditLogEntry
from tests.integration.orgadmin.conftest import Client, World, sign_in


async def audit_actions(engine: AsyncEngine, entity_id: uuid.UUID) -> list[str]:
    async with engine.begin() as conn:
        rows = await conn.execute(
            select(AuditLogEntry.action)
            .where(AuditLogEntry.entity_id == str(entity_id), AuditLogEntry.action.like("user.%"))
            .order_by(AuditLogEntry.created_at)
        )
        return [row[0] for row in rows]


async def test_members_are_searched_and_paged_with_roles_and_last_seen(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    for n in range(3):
        await world.add_user(f"searchable{n}", "learner", name=f"Searchable {n}")
    await world.add_user("percent", "learner", name="100% Person")
    page = (await client.get("/v1/users", headers=admin, params={"q": "searchable", "limit": 2})).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert page["next"]
    assert all(item["roles"] == ["learner"] for item in page["items"])
    # LIKE's wildcards are taken literally: "%" matches the one name holding it, not everyone.
    literal = (await client.get("/v1/users", headers=admin, params={"q": "100%"})).json()
    assert [item["name"] for item in literal["items"]] == ["100% Person"]
    me = (await client.get("/v1/users", headers=admin, params={"q": world.admin})).json()["items"][0]
    assert me["roles"] == ["admin"]
    assert me["last_seen_at"] is not None  # signed in by the fixture
    never = (await client.get("/v1/users", headers=admin, params={"q": "searchable0"})).json()["items"][0]
    assert never["last_seen_at"] is None


async def test_roles_change_is_audited_and_removing_one_ends_the_sessions(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    user_id = await world.add_user("promoted", "learner")
    learner = await sign_in(client, world.email("promoted"), world.slug)
    response = await client.put(f"/v1/users/{user_id}/roles", headers=admin, json={"roles": ["instructor", "learner"]})
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["instructor", "learner"]
    assert (await client.get("/v1/me", headers=learner)).status_code == 200  # adding keeps the session
    response = await client.put(f"/v1/users/{user_id}/roles", headers=admin, json={"roles": ["instructor"]})
    assert response.json()["roles"] == ["instructor"]
    assert (await client.get("/v1/me", headers=learner)).status_code == 401  # a role removed: signed out
    assert await audit_actions(world.engine, user_id) == ["user.roles_changed", "user.roles_changed"]
    unknown = await client.put(f"/v1/users/{user_id}/roles", headers=admin, json={"roles": ["owner"]})
    assert unknown.status_code == 422
    empty = await client.put(f"/v1/users/{user_id}/roles", headers=admin, json={"roles": []})
    assert empty.status_code == 422


async def test_the_org_keeps_one_active_admin(client: Client, world: World, admin: dict[str, str]) -> None:
    me = (await client.get("/v1/me", headers=admin)).json()["user_id"]
    alone = await client.put(f"/v1/users/{me}/roles", headers=admin, json={"roles": ["learner"]})
    assert alone.status_code == 403
    assert alone.json()["type"].endswith("/last-admin")
    assert "active admin" in alone.json()["detail"]
    # With a second admin, the first may step down; the second then cannot be deactivated nor demoted.
    second = await world.add_user("second-admin", "admin")
    second_headers = await sign_in(client, world.email("second-admin"), world.slug)
    try:
        stepped = await client.put(f"/v1/users/{me}/roles", headers=admin, json={"roles": ["admin", "instructor"]})
        assert stepped.status_code == 200
        inactive = await world.add_user("inactive-admin", "admin", active=False)
        demote = await client.put(f"/v1/users/{second}/roles", headers=second_headers, json={"roles": ["instructor"]})
        assert demote.status_code == 200  # the first admin (re-signed in below) is still an active admin
        again = await sign_in(client, world.admin, world.slug)
        # An inactive admin does not count: the last active one cannot step down.
        blocked = await client.put(f"/v1/users/{me}/roles", headers=again, json={"roles": ["learner"]})
        assert blocked.status_code == 403
        assert inactive  # kept for the count above
    finally:
        await client.put(
            f"/v1/users/{me}/roles", headers=await sign_in(client, world.admin, world.slug), json={"roles": ["admin"]}
        )


async def test_deactivation_ends_sessions_and_is_audited(client: Client, world: World, admin: dict[str, str]) -> None:
    user_id = await world.add_user("leaver", "learner")
    leaver = await sign_in(client, world.email("leaver"), world.slug)
    response = await client.patch(f"/v1/users/{user_id}", headers=admin, json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/v1/me", headers=leaver)).status_code == 401
    refused = await client.post(
        "/v1/auth/login", json={"email": world.email("leaver"), "password": "orgadmin-pass-123", "org": world.slug}
    )
    assert refused.status_code == 401
    back = await client.patch(f"/v1/users/{user_id}", headers=admin, json={"is_active": True})
    assert back.json()["is_active"] is True
    assert await audit_actions(world.engine, user_id) == ["user.updated", "user.updated"]


async def test_another_orgs_admin_cannot_see_or_touch_these_people(
    client: Client, world: World, demo_admin: dict[str, str]
) -> None:
    user_id = await world.add_user("private", "learner")
    assert (
        await client.put(f"/v1/users/{user_id}/roles", headers=demo_admin, json={"roles": ["admin"]})
    ).status_code == 404
    assert (
        await client.patch(f"/v1/users/{user_id}", headers=demo_admin, json={"is_active": False})
    ).status_code == 404
    listed = (await client.get("/v1/users", headers=demo_admin, params={"q": world.slug})).json()
    assert listed["total"] == 0
