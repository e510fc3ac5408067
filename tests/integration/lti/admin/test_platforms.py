"""Platform registrations by an org admin (issue 14 §1, contract): create, list, read, edit, delete; the
validation of what an admin types; duplicates across orgs; audit; tenant isolation."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.integration.credentials.issuer_helpers import org_of, owner_execute
from tests.integration.lti.admin.helpers import platform_body
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
FIELDS = ("issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url", "deployment_ids", "name")


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_create_read_list_update_delete(lti_client: Client, demo_admin: dict[str, str]) -> None:
    body = platform_body()
    created = await lti_client.post("/v1/admin/lti/platforms", json=body, headers=demo_admin)
    assert created.status_code == 201, created.text
    platform = created.json()
    assert {k: platform[k] for k in FIELDS} == body
    assert platform["registered_by"] == "admin"
    assert platform["id"]
    assert platform["created_at"]

    read = await lti_client.get(f"/v1/admin/lti/platforms/{platform['id']}", headers=demo_admin)
    assert read.status_code == 200
    assert read.json() == platform

    listed = await lti_client.get("/v1/admin/lti/platforms", params={"limit": 200}, headers=demo_admin)
    assert listed.status_code == 200
    page = listed.json()
    assert {"items", "total", "limit", "offset", "next"} <= set(page)
    assert platform["id"] in [p["id"] for p in page["items"]]

    patched = await lti_client.patch(
        f"/v1/admin/lti/platforms/{platform['id']}",
        json={"deployment_ids": ["deployment-1", " deployment-2 ", "deployment-1"], "name": "Renamed"},
        headers=demo_admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["deployment_ids"] == ["deployment-1", "deployment-2"]  # trimmed, de-duplicated
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["issuer"] == body["issuer"]  # left out: unchanged

    deleted = await lti_client.delete(f"/v1/admin/lti/platforms/{platform['id']}", headers=demo_admin)
    assert deleted.status_code == 204
    _problem(await lti_client.get(f"/v1/admin/lti/platforms/{platform['id']}", headers=demo_admin), 404)
    _problem(await lti_client.delete(f"/v1/admin/lti/platforms/{platform['id']}", headers=demo_admin), 404)


async def test_paging_has_a_next_link(lti_client: Client, demo_admin: dict[str, str]) -> None:
    for _ in range(2):
        assert (await lti_client.post("/v1/admin/lti/platforms", json=platform_body(), headers=demo_admin)).is_success
    first = (await lti_client.get("/v1/admin/lti/platforms", params={"limit": 1}, headers=demo_admin)).json()
    assert len(first["items"]) == 1
    assert first["total"] >= 2
    assert "offset=1" in (first["next"] or "")


async def test_validation_names_each_wrong_field(lti_client: Client, demo_admin: dict[str, str]) -> None:
    body = platform_body(
        auth_login_url="ftp://lms.example.edu/auth",
        key_set_url="https://user:pw@lms.example.edu/jwks",
        deployment_ids=["ok", "   "],
        client_id="   ",
    )
    body["frame_origins"] = ["https://ok.example", "javascript:alert(1)"]
    problem = _problem(await lti_client.post("/v1/admin/lti/platforms", json=body, headers=demo_admin), 422)
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers == {
        "#/auth_login_url",
        "#/key_set_url",
        "#/deployment_ids/1",
        "#/client_id",
        "#/frame_origins/1",
    }
    for broken in (
        {**platform_body(), "deployment_ids": [""]},  # schema: empty deployment id
        {**platform_body(), "issuer": "x" * 501},  # schema: too long
        {**platform_body(), "surprise": True},  # unknown field
        {k: v for k, v in platform_body().items() if k != "key_set_url"},  # missing field
    ):
        response = await lti_client.post("/v1/admin/lti/platforms", json=broken, headers=demo_admin)
        assert response.status_code in (400, 422), response.text


async def test_https_is_required_unless_private_addresses_are_allowed(
    strict_client: Client, lti_client: Client, demo_admin: dict[str, str]
) -> None:
    local = platform_body(base="http://127.0.0.1:9")
    # With LYCEUM_LTI_ALLOW_PRIVATE off, as in production.
    headers = await auth_headers(strict_client, "admin@demo.test", "demo")
    problem = _problem(await strict_client.post("/v1/admin/lti/platforms", json=local, headers=headers), 422)
    assert any("https" in e["detail"] for e in problem["errors"])
    assert (await lti_client.post("/v1/admin/lti/platforms", json=local, headers=demo_admin)).status_code == 201


async def test_duplicates_conflict_without_naming_the_other_org(
    lti_client: Client, demo_admin: dict[str, str], acme_admin: dict[str, str]
) -> None:
    body = platform_body()
    assert (await lti_client.post("/v1/admin/lti/platforms", json=body, headers=demo_admin)).status_code == 201
    same_org = _problem(await lti_client.post("/v1/admin/lti/platforms", json=body, headers=demo_admin), 409)
    other_org = _problem(await lti_client.post("/v1/admin/lti/platforms", json=body, headers=acme_admin), 409)
    assert same_org["detail"] == other_org["detail"]
    assert "demo" not in other_org["detail"].lower()
    # The same issuer with another client_id is another registration.
    other_client = {**body, "client_id": body["client_id"] + "-2"}
    assert (await lti_client.post("/v1/admin/lti/platforms", json=other_client, headers=acme_admin)).status_code == 201
    # Editing a registration into an existing pair conflicts too.
    mine = (await lti_client.post("/v1/admin/lti/platforms", json=platform_body(), headers=acme_admin)).json()
    clash = {"issuer": body["issuer"], "client_id": body["client_id"]}
    _problem(await lti_client.patch(f"/v1/admin/lti/platforms/{mine['id']}", json=clash, headers=acme_admin), 409)


async def test_orgs_see_only_their_registrations(
    lti_client: Client, demo_admin: dict[str, str], acme_admin: dict[str, str]
) -> None:
    demo = (await lti_client.post("/v1/admin/lti/platforms", json=platform_body(), headers=demo_admin)).json()
    path = f"/v1/admin/lti/platforms/{demo['id']}"
    _problem(await lti_client.get(path, headers=acme_admin), 404)
    _problem(await lti_client.patch(path, json={"name": "mine now"}, headers=acme_admin), 404)
    _problem(await lti_client.delete(path, headers=acme_admin), 404)
    listed = (await lti_client.get("/v1/admin/lti/platforms", params={"limit": 200}, headers=acme_admin)).json()
    assert demo["id"] not in [p["id"] for p in listed["items"]]
    assert (await lti_client.get(path, headers=demo_admin)).json()["name"] == demo["name"]


async def test_only_admins(lti_client: Client) -> None:
    instructor = await auth_headers(lti_client, "instructor@demo.test", "demo")
    learner = await auth_headers(lti_client, "learner@demo.test", "demo")
    for headers in (instructor, learner):
        assert (await lti_client.get("/v1/admin/lti/platforms", headers=headers)).status_code == 403
        answer = await lti_client.post("/v1/admin/lti/platforms", json=platform_body(), headers=headers)
        assert answer.status_code == 403
    assert (await lti_client.get("/v1/admin/lti/platforms")).status_code == 401


async def test_changes_are_audited(lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str]) -> None:
    created = (await lti_client.post("/v1/admin/lti/platforms", json=platform_body(), headers=demo_admin)).json()
    path = f"/v1/admin/lti/platforms/{created['id']}"
    await lti_client.patch(path, json={"name": "Audited"}, headers=demo_admin)
    await lti_client.delete(path, headers=demo_admin)
    org_id = await org_of(lti_settings, "demo")
    rows = await owner_execute(
        lti_settings,
        "select action, before, after from audit_log where org_id = :org and entity_id = :id order by created_at",
        {"org": org_id, "id": created["id"]},
    )
    assert [r[0] for r in rows] == ["lti_platform.created", "lti_platform.updated", "lti_platform.deleted"]
    assert rows[1][1]["name"] == "Example LMS"
    assert rows[1][2]["name"] == "Audited"
    assert rows[2][1]["issuer"] == created["issuer"]


async def test_tool_urls_for_manual_setup(
    lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str]
) -> None:
    tool = (await lti_client.get("/v1/admin/lti/tool", headers=demo_admin)).json()
    base = lti_settings.base_url
    assert tool["login_url"] == f"{base}/lti/login"
    assert tool["launch_url"] == f"{base}/lti/launch"
    assert tool["jwks_url"] == f"{base}/lti/jwks.json"
    assert tool["registration_url"] == f"{base}/lti/register"
