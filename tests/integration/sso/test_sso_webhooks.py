"""A first single sign-on provisions an account and writes one ``user.provisioned`` webhook event with it
(``ensure_sso_user``, in the sign-in's transaction), for either protocol; the same identity signing in again
writes none. Both sign-ins go through the real endpoints: the suite's OIDC provider and SAML IdP, and the
shared code exchange."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.config import Settings
from tests.integration.sso import helpers as oidc
from tests.integration.sso import saml_helpers as saml
from tests.support.databases import owner_sql
from tests.support.oidc_provider import OidcProvider
from tests.support.saml_idp import TestIdp
from tests.support.stack import auth_headers
from tests.support.webhooks import Receiver, running_receiver

Client = oidc.Client


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


@pytest.fixture(scope="module")
async def hook(client: Client, receiver: Receiver) -> AsyncIterator[dict[str, Any]]:
    """A demo endpoint subscribed to ``user.provisioned`` (removed afterwards: other modules' sign-ins must
    not keep feeding it)."""
    admin = await auth_headers(client, "admin@demo.test", "demo")
    response = await client.post(
        "/v1/admin/webhooks", headers=admin, json={"url": receiver.url("/sso"), "events": ["user.provisioned"]}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    yield body
    removed = await client.delete(f"/v1/admin/webhooks/{body['id']}", headers=admin)
    assert removed.status_code == 204, removed.text


async def provisioned_events(settings: Settings, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await owner_sql(
        settings,
        "select o.slug, e.data from webhook_events e join organizations o on o.id = e.org_id "
        "where e.type = 'user.provisioned' and e.data ->> 'user_id' = :id",
        {"id": user_id},
    )
    return [(str(r[0]), dict(r[1])) for r in rows]


async def test_a_first_oidc_sign_in_writes_user_provisioned_once(
    client: Client, settings: Settings, oidc_provider: OidcProvider, hook: dict[str, Any]
) -> None:
    issuer = oidc_provider.new_issuer()
    await oidc.configure(client, issuer, role_claim="groups", role_mapping={"teachers": "instructor"})
    issuer.sign_in_as(f"okta-{uuid.uuid4().hex[:8]}", oidc.new_email(), groups=["teachers"])

    first = await oidc.sign_in(client)
    assert first["protocol"] == "oidc"
    user_id = first["user"]["id"]
    assert await provisioned_events(settings, user_id) == [
        ("demo", {"user_id": user_id, "role": "instructor", "source": "oidc"})
    ]

    again = await oidc.sign_in(client)  # the same identity: no new account, no new event
    assert again["user"]["id"] == user_id
    assert len(await provisioned_events(settings, user_id)) == 1


async def test_a_first_saml_sign_in_writes_user_provisioned_once(
    client: Client, settings: Settings, hook: dict[str, Any]
) -> None:
    idp = TestIdp()
    await saml.configure(client, idp, await saml.admin_headers(client))
    email = saml.new_email()

    first = await saml.sign_in(client, idp, name_id=email, attributes={"groups": ["students"]})
    assert first["protocol"] == "saml"
    user_id = first["user"]["id"]
    assert await provisioned_events(settings, user_id) == [
        ("demo", {"user_id": user_id, "role": "learner", "source": "saml"})
    ]

    again = await saml.sign_in(client, idp, name_id=email, attributes={"groups": ["teachers"]})
    assert again["user"]["id"] == user_id
    assert again["user"]["role"] == "instructor"  # the role follows the IdP; still not a new account
    assert len(await provisioned_events(settings, user_id)) == 1
