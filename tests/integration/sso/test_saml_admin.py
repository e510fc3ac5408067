"""The org admin's SAML connection (``/v1/admin/sso/saml``): what an admin gives their IdP, metadata validated on
save (upload or URL fetched from a server on 127.0.0.1), clear 422s for bad metadata, audit, removal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.config import Settings
from tests.integration.sso.saml_helpers import ORG, Client, admin_headers, configure
from tests.support.databases import owner_sql
from tests.support.saml_idp import MetadataServer, TestIdp

BODY: dict[str, Any] = {"display_name": "Campus login", "allowed_domains": [], "role_claim": "", "role_mapping": {}}


@pytest.fixture(scope="module")
def metadata_server() -> Iterator[MetadataServer]:
    with MetadataServer().running() as server:
        yield server


@pytest.fixture
async def headers(client: Client) -> dict[str, str]:
    return await admin_headers(client)


async def put(client: Client, headers: dict[str, str], **fields: Any) -> Any:
    return await client.put("/v1/admin/sso/saml", json={**BODY, **fields}, headers=headers)


def assert_invalid(response: Any, pointer: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors[0]["pointer"] == pointer, errors
    assert words in errors[0]["detail"], errors


async def test_an_admin_sees_what_to_give_the_idp_before_configuring(
    client: Client, headers: dict[str, str], settings: Settings
) -> None:
    await client.delete("/v1/admin/sso/saml", headers=headers)
    body = (await client.get("/v1/admin/sso/saml", headers=headers)).json()
    base = f"{settings.base_url}/v1/auth/sso/{ORG}/saml"
    assert body["configured"] is False
    assert body["sp_entity_id"] == f"{base}/metadata"
    assert body["acs_url"] == f"{base}/acs"
    assert body["metadata_url"] == f"{base}/metadata"


async def test_uploaded_metadata_is_parsed_stored_and_audited(
    client: Client, headers: dict[str, str], settings: Settings
) -> None:
    await client.delete("/v1/admin/sso/saml", headers=headers)
    idp = TestIdp()
    body = await configure(client, idp, headers, email_verified=True, clock_skew_seconds=30)
    assert body["configured"] is True
    assert body["idp_entity_id"] == idp.entity_id
    assert body["idp_sso_url"] == idp.sso_url
    assert body["idp_certificate_expires_at"]
    assert body["role_mapping"] == {"teachers": "instructor", "it-admins": "admin"}
    assert body["email_verified"] is True
    assert body["clock_skew_seconds"] == 30
    # A later change without metadata keeps it.
    changed = await put(client, headers, enabled=False)
    assert changed.status_code == 200, changed.text
    assert changed.json()["idp_entity_id"] == idp.entity_id
    assert changed.json()["enabled"] is False
    assert (await client.get("/v1/admin/sso/saml", headers=headers)).json()["display_name"] == "Campus login"
    rows = await owner_sql(
        settings,
        "select action from audit_log where entity_type = 'sso_connection' and action like 'sso.saml.%' "
        "order by created_at desc limit 2",
    )
    assert [r[0] for r in rows] == ["sso.saml.updated", "sso.saml.created"]


async def test_metadata_from_a_url_is_fetched_and_stored(
    client: Client, headers: dict[str, str], metadata_server: MetadataServer
) -> None:
    idp = TestIdp(entity_id="https://idp.fetched.test/saml")
    url = metadata_server.serve("good.xml", idp.metadata_xml())
    response = await put(client, headers, idp_metadata_url=url)
    assert response.status_code == 200, response.text
    assert response.json()["idp_metadata_url"] == url
    assert response.json()["idp_entity_id"] == "https://idp.fetched.test/saml"


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("this is not xml", "not readable SAML metadata"),
        ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "not readable"),
        ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>', "IDPSSODescriptor"),
    ],
)
async def test_unreadable_metadata_is_a_422(client: Client, headers: dict[str, str], document: str, words: str) -> None:
    assert_invalid(await put(client, headers, idp_metadata_xml=document), "#/idp_metadata_xml", words)


async def test_metadata_without_a_signing_certificate_is_a_422(client: Client, headers: dict[str, str]) -> None:
    xml = TestIdp().metadata_xml(with_certificate=False)
    assert_invalid(await put(client, headers, idp_metadata_xml=xml), "#/idp_metadata_xml", "signing certificate")


async def test_metadata_with_a_broken_certificate_is_a_422(client: Client, headers: dict[str, str]) -> None:
    idp = TestIdp()
    xml = idp.metadata_xml().replace(idp.key.cert_b64, "bm90IGEgY2VydGlmaWNhdGU=")
    assert_invalid(await put(client, headers, idp_metadata_xml=xml), "#/idp_metadata_xml", "not a valid X.509")


async def test_metadata_urls_that_fail_are_a_422(
    client: Client, headers: dict[str, str], metadata_server: MetadataServer
) -> None:
    missing = f"{metadata_server.base_url}/missing.xml"
    assert_invalid(await put(client, headers, idp_metadata_url=missing), "#/idp_metadata_url", "could not be fetched")
    moved = metadata_server.redirect("moved.xml", metadata_server.serve("target.xml", TestIdp().metadata_xml()))
    assert_invalid(await put(client, headers, idp_metadata_url=moved), "#/idp_metadata_url", "redirects")
    garbage = metadata_server.serve("garbage.xml", "<html>login page</html>")
    assert_invalid(await put(client, headers, idp_metadata_url=garbage), "#/idp_metadata_url", "IDPSSODescriptor")
    assert_invalid(await put(client, headers, idp_metadata_url="ftp://idp.example/md"), "#/idp_metadata_url", "http")


async def test_both_or_neither_metadata_source(client: Client, headers: dict[str, str]) -> None:
    xml = TestIdp().metadata_xml()
    both = await put(client, headers, idp_metadata_xml=xml, idp_metadata_url="https://idp.example/md")
    assert_invalid(both, "#/idp_metadata_url", "not both")
    await client.delete("/v1/admin/sso/saml", headers=headers)
    assert_invalid(await put(client, headers), "#/idp_metadata_xml", "first setup")


async def test_bad_fields_are_refused(client: Client, headers: dict[str, str]) -> None:
    xml = TestIdp().metadata_xml()
    bad_role = await put(client, headers, idp_metadata_xml=xml, role_mapping={"staff": "superuser"})
    assert bad_role.status_code == 422, bad_role.text
    bad_domain = await put(client, headers, idp_metadata_xml=xml, allowed_domains=["not a domain"])
    assert_invalid(bad_domain, "#/allowed_domains/0", "email domain")
    unknown = await put(client, headers, idp_metadata_xml=xml, issuer="https://x")
    assert unknown.status_code == 422, unknown.text


async def test_delete_removes_the_connection(client: Client, headers: dict[str, str], settings: Settings) -> None:
    await configure(client, TestIdp(), headers)
    assert (await client.delete("/v1/admin/sso/saml", headers=headers)).status_code == 204
    assert (await client.get("/v1/admin/sso/saml", headers=headers)).json()["configured"] is False
    assert (await client.delete("/v1/admin/sso/saml", headers=headers)).status_code == 404
    rows = await owner_sql(settings, "select count(*) from audit_log where action = 'sso.saml.deleted'")
    assert rows[0][0] >= 1
