"""The webhook administration API: the contract (201 with a whsec_ secret shown once), list/get/update/
delete/rotate, the delivery log's access rules, bad input as 4xx problems, RBAC, tenancy, audit, and the
SSRF refusals at registration with LYCEUM_WEBHOOKS_ALLOW_PRIVATE off."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import AuditLogEntry, WebhookEndpoint
from app.lib.sealing import key_encryption_key, unseal
from tests.integration.webhooks.conftest import Client
from tests.support.stack import auth_headers
from tests.support.webhooks import Receiver

EVENTS = ["enrollment.created", "course.completed"]


async def register(client: Client, headers: dict[str, str], url: str, events: list[str] | None = None) -> Any:
    return await client.post("/v1/admin/webhooks", headers=headers, json={"url": url, "events": events or EVENTS})


async def test_register_answers_the_contract_and_the_secret_is_shown_once(
    client: Client,
    demo_admin: dict[str, str],
    receiver: Receiver,
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    response = await register(client, demo_admin, receiver.url("/contract"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "url", "events", "secret"}
    assert body["url"] == receiver.url("/contract")
    assert body["events"] == EVENTS
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) > 30
    # Never again: not in the read, the list or the audit log; sealed at rest.
    one = (await client.get(f"/v1/admin/webhooks/{body['id']}", headers=demo_admin)).json()
    listed = (await client.get("/v1/admin/webhooks", headers=demo_admin)).json()
    assert "secret" not in one
    assert body["secret"] not in str(listed)
    assert one["enabled"] is True
    assert one["breaker"] == "closed"
    assert one["disabled_reason"] == ""
    async with db.transaction(demo_org) as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(body["id"]))
        assert row is not None
        assert body["secret"].encode() not in row.secret_sealed
        aad = f"webhook_endpoint:{row.id}".encode()
        assert unseal(row.secret_sealed, key_encryption_key(settings), aad).decode() == body["secret"]
        audits = list(await session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == body["id"])))
    assert [a.action for a in audits] == ["webhook_endpoint.created"]
    assert body["secret"] not in str([a.after for a in audits])


async def test_update_rotate_and_delete_are_audited(
    client: Client, demo_admin: dict[str, str], receiver: Receiver, db: Database, demo_org: uuid.UUID
) -> None:
    created = (await register(client, demo_admin, receiver.url("/crud"))).json()
    path = f"/v1/admin/webhooks/{created['id']}"
    changed = await client.patch(path, headers=demo_admin, json={"events": ["credential.issued"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["credential.issued"]
    assert changed.json()["enabled"] is False
    enabled = await client.patch(path, headers=demo_admin, json={"enabled": True})
    assert enabled.json()["enabled"] is True
    rotated = await client.post(f"{path}/rotate-secret", headers=demo_admin)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert (await client.get(f"{path}/deliveries", headers=demo_admin)).json()["items"] == []
    assert (await client.delete(path, headers=demo_admin)).status_code == 204
    assert (await client.get(path, headers=demo_admin)).status_code == 404
    assert (await client.get(f"{path}/deliveries", headers=demo_admin)).status_code == 404
    async with db.transaction(demo_org) as session:
        actions = list(
            await session.scalars(
                select(AuditLogEntry.action)
                .where(AuditLogEntry.entity_id == created["id"])
                .order_by(AuditLogEntry.created_at)
            )
        )
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "http://127.0.0.1:9/x", "events": ["no.such.event"]}, 422),  # outside the catalogue
        ({"url": "http://127.0.0.1:9/x", "events": []}, 422),  # subscribes to nothing
        ({"url": "http://127.0.0.1:9/x"}, 422),  # events missing
        ({"url": "", "events": ["item.completed"]}, 422),
        ({"url": "http://127.0.0.1:9/x", "events": ["item.completed"], "secret": "mine"}, 422),  # unknown field
        ({"url": "ftp://127.0.0.1/x", "events": ["item.completed"]}, 422),
        ({"url": "not a url", "events": ["item.completed"]}, 422),
        ({"url": "http://user:pw@127.0.0.1:9/x", "events": ["item.completed"]}, 422),  # credentials in the URL
        ({"url": "http://no-such-host.invalid/x", "events": ["item.completed"]}, 422),  # does not resolve
    ],
)
async def test_bad_registrations_are_4xx_problems(
    client: Client, demo_admin: dict[str, str], body: dict[str, Any], status: int
) -> None:
    response = await client.post("/v1/admin/webhooks", headers=demo_admin, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_bad_updates_and_unknown_ids_are_4xx(
    client: Client, demo_admin: dict[str, str], receiver: Receiver
) -> None:
    created = (await register(client, demo_admin, receiver.url("/bad-update"))).json()
    path = f"/v1/admin/webhooks/{created['id']}"
    assert (await client.patch(path, headers=demo_admin, json={"events": ["nope"]})).status_code == 422
    assert (await client.patch(path, headers=demo_admin, json={"url": "http://x"})).status_code == 422  # not editable
    unknown = f"/v1/admin/webhooks/{uuid.uuid4()}"
    assert (await client.get(unknown, headers=demo_admin)).status_code == 404
    assert (await client.patch(unknown, headers=demo_admin, json={"enabled": False})).status_code == 404
    assert (await client.delete(unknown, headers=demo_admin)).status_code == 404
    assert (await client.post(f"{unknown}/rotate-secret", headers=demo_admin)).status_code == 404
    replay = await client.post(f"{path}/deliveries/{uuid.uuid4()}/replay", headers=demo_admin)
    assert replay.status_code == 404
    assert (await client.delete(path, headers=demo_admin)).status_code == 204


async def test_only_admins_and_only_their_own_org(
    client: Client, demo_admin: dict[str, str], acme_admin: dict[str, str], receiver: Receiver
) -> None:
    created = (await register(client, demo_admin, receiver.url("/tenancy"))).json()
    path = f"/v1/admin/webhooks/{created['id']}"
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    learner = await auth_headers(client, "learner@demo.test", "demo")
    for headers in (instructor, learner):
        assert (await register(client, headers, receiver.url("/nope"))).status_code == 403
        assert (await client.get(path, headers=headers)).status_code == 403
    assert (await client.get(path)).status_code == 401
    # Another org's admin cannot see, change, or read the log of it (row-level security: 404).
    assert (await client.get(path, headers=acme_admin)).status_code == 404
    assert (await client.patch(path, headers=acme_admin, json={"enabled": False})).status_code == 404
    assert (await client.get(f"{path}/deliveries", headers=acme_admin)).status_code == 404
    assert created["id"] not in str((await client.get("/v1/admin/webhooks", headers=acme_admin)).json())
    assert (await client.delete(path, headers=demo_admin)).status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hook",  # private
        "https://192.168.0.10/hook",
        "https://172.16.5.5/hook",
        "https://127.0.0.1/hook",  # loopback
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/hook",  # IPv6 loopback
        "https://[fe80::1]/hook",  # IPv6 link-local
        "https://[fc00::5]/hook",  # IPv6 unique-local (private)
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "https://0.0.0.0/hook",  # unspecified
        "https://localhost/hook",  # a name that resolves to a loopback address
        "http://93.184.216.34/hook",  # public, but plain http is refused in production
    ],
)
async def test_private_addresses_are_refused_at_registration(
    strict_client: Client, url: str, demo_admin: dict[str, str]
) -> None:
    response = await register(strict_client, demo_admin, url)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "#/url"


async def test_enabling_rechecks_the_url(
    client: Client, strict_client: Client, demo_admin: dict[str, str], receiver: Receiver
) -> None:
    """An endpoint registered while private addresses were allowed cannot be re-enabled once they are not."""
    created = (await register(client, demo_admin, receiver.url("/recheck"))).json()
    path = f"/v1/admin/webhooks/{created['id']}"
    assert (await client.patch(path, headers=demo_admin, json={"enabled": False})).status_code == 200
    refused = await strict_client.patch(path, headers=demo_admin, json={"enabled": True})
    assert refused.status_code == 422, refused.text
    assert (await client.delete(path, headers=demo_admin)).status_code == 204


async def test_a_malformed_body_is_a_400_problem(client: Client, demo_admin: dict[str, str]) -> None:
    response = await client.post(
        "/v1/admin/webhooks", headers={**demo_admin, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
