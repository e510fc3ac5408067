"""Invitations: the one-time link (hashed at rest, works once, expires, revocable, re-sendable), the public
preview and accept (signed in with the invited role), refusals (existing member, an account of another org,
SSO required, bad input), rate limiting like sign-in, and another org's admin kept out."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.asgi import create_app
from app.config import Settings
from app.db.models import AuditLogEntry, Invitation, Organization
from tests.integration.orgadmin.conftest import Client, World
from tests.support.stack import make_settings


def token_of(created: dict[str, Any]) -> str:
    return str(created["path"]).removeprefix("/invite/")


async def invite(client: Client, admin: dict[str, str], email: str, role: str = "instructor") -> dict[str, Any]:
    response = await client.post("/v1/admin/invitations", headers=admin, json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


NEW_PASSWORD = "a-long-password-1"


async def accept(client: Client, token: str, name: str = "New Person", password: str = NEW_PASSWORD) -> Any:
    return await client.post("/v1/invitations/accept", json={"token": token, "name": name, "password": password})


async def test_an_invitation_is_accepted_once_and_signs_the_person_in_with_its_role(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    email = world.email("invitee")
    created = await invite(client, admin, email.upper(), role="instructor")
    token = token_of(created)
    assert created["link"].endswith(created["path"])
    assert created["delivery"] == "copy"
    assert created["invitation"]["status"] == "pending"
    assert created["invitation"]["email"] == email  # normalised
    async with world.engine.begin() as conn:
        row = (
            await conn.execute(select(Invitation).where(Invitation.id == uuid.UUID(created["invitation"]["id"])))
        ).one()
        actions = [
            a for (a,) in await conn.execute(select(AuditLogEntry.action).where(AuditLogEntry.entity_id == str(row.id)))
        ]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
    assert token not in str(tuple(row))
    assert actions == ["invitation.created"]
    assert timedelta(days=6) < row.expires_at - datetime.now(UTC) <= timedelta(days=7)

    preview = await client.post("/v1/invitations/preview", json={"token": token})
    assert preview.status_code == 200, preview.text
    assert preview.json() | {"expires_at": None} == {
        "org": world.slug,
        "org_name": f"Org {world.tag}",
        "email": email,
        "role": "instructor",
        "expires_at": None,
        "sso_required": False,
    }
    response = await accept(client, token, name="  Ada   Lovelace ")
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = (await client.get("/v1/me", headers=headers)).json()
    assert (me["email"], me["name"], me["roles"], me["org"]) == (email, "Ada Lovelace", ["instructor"], world.slug)
    # Once only: the link is spent, and says so.
    again = await accept(client, token)
    assert again.status_code == 410
    assert again.json()["reason"] == "accepted"
    assert (await client.post("/v1/invitations/preview", json={"token": token})).status_code == 410
    listed = (await client.get("/v1/admin/invitations", headers=admin, params={"status": "accepted"})).json()
    assert created["invitation"]["id"] in [i["id"] for i in listed["items"]]
    # The new member signs in with the password they chose.
    login = await client.post(
        "/v1/auth/login", json={"email": email, "password": "a-long-password-1", "org": world.slug}
    )
    assert login.status_code == 200


async def test_expired_revoked_and_replaced_links_are_refused_clearly(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    expired = await invite(client, admin, world.email("late"), role="learner")
    async with world.engine.begin() as conn:
        await conn.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(expired["invitation"]["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    gone = await accept(client, token_of(expired))
    assert (gone.status_code, gone.json()["reason"]) == (410, "expired")
    assert "expired" in gone.json()["detail"]
    # Re-sending gives a new link and a new week; the old link stops working.
    resent = (await client.post(f"/v1/admin/invitations/{expired['invitation']['id']}/resend", headers=admin)).json()
    assert resent["invitation"]["status"] == "pending"
    assert (await accept(client, token_of(expired))).status_code == 404
    revoked = await client.post(f"/v1/admin/invitations/{expired['invitation']['id']}/revoke", headers=admin)
    assert revoked.json()["status"] == "revoked"
    refused = await accept(client, token_of(resent))
    assert (refused.status_code, refused.json()["reason"]) == (410, "revoked")
    assert (
        await client.post(f"/v1/admin/invitations/{expired['invitation']['id']}/resend", headers=admin)
    ).status_code == 409
    unknown = await accept(client, "x" * 43)
    assert unknown.status_code == 404
    assert "not valid" in unknown.json()["detail"]


async def test_members_and_other_orgs_accounts_cannot_accept(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    # A member's address cannot be invited at all, nor invited twice while open.
    assert (
        await client.post("/v1/admin/invitations", headers=admin, json={"email": world.admin, "role": "learner"})
    ).status_code == 409
    first = await invite(client, admin, world.email("twice"), role="learner")
    dup = await client.post(
        "/v1/admin/invitations", headers=admin, json={"email": world.email("twice"), "role": "admin"}
    )
    assert dup.status_code == 409
    # Became a member meanwhile (added by another way): accepting is refused, and nothing is written.
    await world.add_user("twice", "learner")
    refused = await accept(client, token_of(first))
    assert refused.status_code == 409
    assert "already has an account in this organization" in refused.json()["detail"]
    # An account of another org: setting its password from a link would take it over.
    elsewhere = await invite(client, admin, "learner@demo.test", role="learner")
    response = await accept(client, token_of(elsewhere))
    assert response.status_code == 409
    assert response.json()["code"] == "account-elsewhere"
    status = (await client.get("/v1/admin/invitations", headers=admin, params={"status": "pending"})).json()
    assert elsewhere["invitation"]["id"] in [i["id"] for i in status["items"]]  # not spent by the refusal


async def test_an_sso_org_sends_invitees_to_its_sign_in(client: Client, world: World, admin: dict[str, str]) -> None:
    learner = await invite(client, admin, world.email("sso-learner"), role="learner")
    boss = await invite(client, admin, world.email("sso-admin"), role="admin")
    async with world.engine.begin() as conn:
        await conn.execute(update(Organization).where(Organization.id == world.org_id).values(sso_required=True))
    try:
        preview = (await client.post("/v1/invitations/preview", json={"token": token_of(learner)})).json()
        assert preview["sso_required"] is True
        refused = await accept(client, token_of(learner))
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/sso-required")
        # Admins keep a password in an SSO org (break-glass), so their invitation works as usual.
        assert (await client.post("/v1/invitations/preview", json={"token": token_of(boss)})).json()[
            "sso_required"
        ] is False
        assert (await accept(client, token_of(boss))).status_code == 200
    finally:
        async with world.engine.begin() as conn:
            await conn.execute(update(Organization).where(Organization.id == world.org_id).values(sso_required=False))


async def test_bad_input_is_a_clear_4xx(client: Client, world: World, admin: dict[str, str]) -> None:
    created = await invite(client, admin, world.email("careful"), role="learner")
    token = token_of(created)
    assert (
        await client.post("/v1/admin/invitations", headers=admin, json={"email": "nope", "role": "learner"})
    ).status_code == 422
    assert (
        await client.post("/v1/admin/invitations", headers=admin, json={"email": world.email("x"), "role": "owner"})
    ).status_code == 422
    assert (await accept(client, token, password="short")).status_code == 422
    assert (await accept(client, token, name="Bad\u202eName")).status_code == 422
    assert (
        await client.post(
            "/v1/invitations/accept", json={"token": "../../etc", "name": "A", "password": "a-long-password-1"}
        )
    ).status_code == 422
    # None of that spent the invitation.
    assert (await client.post("/v1/invitations/preview", json={"token": token})).status_code == 200


async def test_the_public_routes_are_rate_limited_like_sign_in(settings: Settings, seeded: Any, tmp_path: Path) -> None:
    """Guessing or replaying a token costs what guessing a password does (the sign-in limit, 3 a minute here)."""
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix + f"invite-{uuid.uuid4().hex[:6]}:",
            tmp_path,
            LYCEUM_RATE_LIMIT_LOGIN_USER="3/60s",
        )
    )
    token = uuid.uuid4().hex + "abc"
    async with AsyncTestClient(app=app) as limited:
        statuses = [
            (await limited.post("/v1/invitations/preview", json={"token": token})).status_code for _ in range(4)
        ]
        accept_status = (
            await limited.post(
                "/v1/invitations/accept", json={"token": token, "name": "A", "password": "a-long-password-1"}
            )
        ).status_code
    assert statuses == [404, 404, 404, 429]
    assert accept_status == 429


async def test_another_orgs_admin_cannot_touch_these_invitations(
    client: Client, world: World, admin: dict[str, str], demo_admin: dict[str, str]
) -> None:
    created = await invite(client, admin, world.email("hidden"), role="learner")
    invitation_id = created["invitation"]["id"]
    assert (await client.post(f"/v1/admin/invitations/{invitation_id}/revoke", headers=demo_admin)).status_code == 404
    assert (await client.post(f"/v1/admin/invitations/{invitation_id}/resend", headers=demo_admin)).status_code == 404
    listed = (await client.get("/v1/admin/invitations", headers=demo_admin, params={"limit": 100})).json()
    assert invitation_id not in [i["id"] for i in listed["items"]]
