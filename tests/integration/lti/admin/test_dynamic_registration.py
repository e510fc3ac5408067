"""LTI Dynamic Registration 1.0 (issue 14 §1): an admin's one-time invitation, the platform's
openid-configuration read, the tool's registration posted with the registration token, the result stored
under the invitation's org, and the close message; refusals without a valid invitation or with a
configuration that does not hold together."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.integration.credentials.issuer_helpers import org_of, owner_execute
from tests.support.lti.registration import TOOL_CONFIGURATION, RegistrationPlatform
from tests.support.lti.server import PlatformServer, Reply

Client = AsyncTestClient[Litestar]
CLOSE = 'postMessage({subject: "org.imsglobal.lti.close"}'


async def _invite(client: Client, headers: dict[str, str]) -> str:
    response = await client.post("/v1/admin/lti/registrations", headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["expires_at"]
    return str(body["url"])


def _path(invite_url: str, platform: RegistrationPlatform, token: str | None = None) -> str:
    """What the LMS opens: the invitation URL with its own parameters appended."""
    parts = urlsplit(invite_url)
    query = parts.query + f"&openid_configuration={platform.configuration_url}"
    query += f"&registration_token={token or platform.registration_token}"
    return f"{parts.path}?{query}"


async def _platform_row(settings: Settings, issuer: str) -> list[Any]:
    rows: list[Any] = await owner_execute(
        settings,
        "select org_id, client_id, auth_login_url, auth_token_url, key_set_url, deployment_ids, registered_by, "
        "extra, name from lti_platforms where issuer = :issuer",
        {"issuer": issuer},
    )
    return rows


async def test_dynamic_registration_round_trip(
    lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    invite_url = await _invite(lti_client, demo_admin)
    assert invite_url.startswith(f"{lti_settings.base_url}/lti/register?invite=")
    platform = RegistrationPlatform(platform_server, deployment_id="deploy-7")
    page = await lti_client.get(_path(invite_url, platform))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert CLOSE in page.text
    assert "(window.opener || window.parent)" in page.text

    # What the tool sent: the spec's client registration, with the registration token as Bearer.
    [sent] = platform.registrations()
    assert sent.headers["authorization"] == f"Bearer {platform.registration_token}"
    body = sent.json()
    base = lti_settings.base_url
    assert body["application_type"] == "web"
    assert body["response_types"] == ["id_token"]
    assert set(body["grant_types"]) == {"implicit", "client_credentials"}
    assert body["initiate_login_uri"] == f"{base}/lti/login"
    assert body["redirect_uris"] == [f"{base}/lti/launch"]
    assert body["jwks_uri"] == f"{base}/lti/jwks.json"
    assert body["client_name"] == "Lyceum"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    scopes = body["scope"].split()
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in scopes
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" in scopes
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly" in scopes
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in scopes
    tool = body[TOOL_CONFIGURATION]
    assert tool["domain"] == urlsplit(base).netloc
    assert tool["target_link_uri"] == f"{base}/lti/launch"
    assert {m["type"] for m in tool["messages"]} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert "sub" in tool["claims"]

    # What was stored: one registration, in the invitation's org, from the configuration and the answer.
    [row] = await _platform_row(lti_settings, platform.issuer)
    org_id, client_id, login, token, jwks, deployments, registered_by, extra, name = row
    assert org_id == await org_of(lti_settings, "demo")
    assert client_id == platform.client_id
    assert (login, token, jwks) == (f"{platform.issuer}/auth", f"{platform.issuer}/token", f"{platform.issuer}/jwks")
    assert deployments == ["deploy-7"]
    assert registered_by == "dynamic"
    assert extra["product_family_code"] == "moodle"
    assert "moodle" in name
    listed = (await lti_client.get("/v1/admin/lti/platforms", params={"limit": 200}, headers=demo_admin)).json()
    assert platform.issuer in [p["issuer"] for p in listed["items"]]
    audit = await owner_execute(
        lti_settings,
        "select action, actor_id from audit_log where entity_type = 'lti_platform' and after->>'issuer' = :i",
        {"i": platform.issuer},
    )
    assert [a[0] for a in audit] == ["lti_platform.registered"]

    # The invitation was used up: the same link registers nothing more.
    again = RegistrationPlatform(platform_server)
    refused = await lti_client.get(_path(invite_url, again))
    assert refused.status_code == 400
    assert "already used or has expired" in refused.text
    assert CLOSE not in refused.text
    assert again.registrations() == []


async def test_refused_without_a_valid_invitation(
    lti_client: Client, lti_settings: Settings, platform_server: PlatformServer
) -> None:
    platform = RegistrationPlatform(platform_server)
    for path in (
        f"/lti/register?openid_configuration={platform.configuration_url}&registration_token=x",
        f"/lti/register?invite=made-up&openid_configuration={platform.configuration_url}",
    ):
        for method in ("GET", "POST"):
            page = await lti_client.request(method, path)
            assert page.status_code == 400, page.text
            assert page.headers["content-type"].startswith("text/html")
            assert "invitation" in page.text or "not valid" in page.text
    assert platform_server.requests(platform.configuration_path) == []  # nothing fetched for an uninvited caller
    assert await _platform_row(lti_settings, platform.issuer) == []


async def test_form_post_registers_too(
    lti_client: Client, lti_settings: Settings, acme_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    invite = parse_qs(urlsplit(await _invite(lti_client, acme_admin)).query)["invite"][0]
    platform = RegistrationPlatform(platform_server, product="Brightspace")
    page = await lti_client.post(
        "/lti/register",
        data={
            "invite": invite,
            "openid_configuration": platform.configuration_url,
            "registration_token": platform.registration_token,
        },
    )
    assert page.status_code == 200, page.text
    [row] = await _platform_row(lti_settings, platform.issuer)
    assert row[0] == await org_of(lti_settings, "acme")


async def test_issuer_must_prefix_the_configuration_url(
    lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    invite_url = await _invite(lti_client, demo_admin)
    platform = RegistrationPlatform(platform_server)
    platform.configuration["issuer"] = "https://someone-else.example"
    page = await lti_client.get(_path(invite_url, platform))
    assert page.status_code == 400
    assert "issuer" in page.text
    assert platform.registrations() == []
    # Refused before anything was stored: the invitation still works once the platform is fixed.
    platform.configuration["issuer"] = platform.issuer
    assert (await lti_client.get(_path(invite_url, platform))).status_code == 200
    assert len(await _platform_row(lti_settings, platform.issuer)) == 1


async def test_a_platform_failure_is_reported_and_the_invitation_kept(
    lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    invite_url = await _invite(lti_client, demo_admin)
    platform = RegistrationPlatform(platform_server)
    # The LMS hands out a token its endpoint then refuses.
    page = await lti_client.get(_path(invite_url, platform, token="wrong-token"))
    assert page.status_code == 400
    assert "refused the tool&#x27;s registration" in page.text
    assert (await lti_client.get(_path(invite_url, platform))).status_code == 200


async def test_private_addresses_are_refused_in_production_settings(
    strict_client: Client, platform_server: PlatformServer
) -> None:
    """With LYCEUM_LTI_ALLOW_PRIVATE off, as in production: a loopback configuration URL is refused before
    any request leaves the tool (SSRF)."""
    client = strict_client
    from tests.support.stack import auth_headers

    headers = await auth_headers(client, "admin@demo.test", "demo")
    invite_url = await _invite(client, headers)
    platform = RegistrationPlatform(platform_server)
    page = await client.get(_path(invite_url, platform))
    assert page.status_code == 400
    assert "refused" in page.text
    assert platform_server.requests(platform.configuration_path) == []


async def test_a_registered_pair_is_not_registered_twice(
    lti_client: Client, demo_admin: dict[str, str], acme_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    platform = RegistrationPlatform(platform_server)
    assert (await lti_client.get(_path(await _invite(lti_client, demo_admin), platform))).status_code == 200
    page = await lti_client.get(_path(await _invite(lti_client, acme_admin), platform))
    assert page.status_code == 409
    assert "already registered" in page.text


async def test_a_broken_configuration_is_refused(
    lti_client: Client, demo_admin: dict[str, str], platform_server: PlatformServer
) -> None:
    platform = RegistrationPlatform(platform_server)
    del platform.configuration["registration_endpoint"]
    page = await lti_client.get(_path(await _invite(lti_client, demo_admin), platform))
    assert page.status_code == 400
    assert "registration_endpoint" in page.text
    platform_server.route(
        "GET", platform.configuration_path, lambda _: Reply(200, "not json", content_type="text/plain")
    )
    page = await lti_client.get(_path(await _invite(lti_client, demo_admin), platform))
    assert page.status_code == 400
