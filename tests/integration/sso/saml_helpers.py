"""Helpers of the SAML tests: the demo org's connection to a test IdP, a browser's trip through login and ACS
and the web app's code exchange (the shared ``POST /v1/sso/session``), and owner-role SQL to look behind
row-level security."""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.databases import owner_sql
from tests.support.saml_idp import TestIdp, request_id_of
from tests.support.stack import login

Client = AsyncTestClient[Litestar]
ORG = "demo"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def admin_headers(client: Client, org: str = ORG) -> dict[str, str]:
    tokens = await login(client, f"admin@{org}.test", org)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def configure(client: Client, idp: TestIdp, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": "Test IdP",
        "enabled": True,
        "idp_metadata_xml": idp.metadata_xml(),
        "allowed_domains": ["demo.test", "example.edu"],
        "role_claim": "groups",
        "role_mapping": {"teachers": "instructor", "it-admins": "admin"},
        "default_role": "learner",
        **fields,
    }
    response = await client.put("/v1/admin/sso/saml", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass(frozen=True)
class Started:
    request_id: str
    acs_url: str
    sp_entity_id: str


async def start(client: Client, org: str = ORG, next_path: str | None = None) -> Started:
    params = {"next": next_path} if next_path else None
    response = await client.get(f"/v1/auth/sso/{org}/saml/login", params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    request_id, acs_url = request_id_of(response.headers["location"])
    return Started(request_id=request_id, acs_url=acs_url, sp_entity_id=acs_url.removesuffix("/acs") + "/metadata")


async def post_acs(client: Client, saml_response: str, org: str = ORG) -> Any:
    return await client.post(
        f"/v1/auth/sso/{org}/saml/acs", content=f"SAMLResponse={_q(saml_response)}&RelayState=", headers=FORM
    )


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def page_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="sso-data">(.*?)</script>', page, re.DOTALL)
    assert match, page
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def code_of(page: str) -> str:
    """The one-time code of the ACS's hand-off page: the shared one (``/sso/complete?code=…``, as OIDC's)."""
    data = page_data(page)
    assert data["page"] == "sso-complete", data
    url = urlsplit(data["next"])
    assert url.path == "/sso/complete", data
    return parse_qs(url.query)["code"][0]


async def exchange(client: Client, code: str, refresh_mode: str = "body") -> Any:
    """The web app's one exchange at ``/sso/complete``: the shared ``POST /v1/sso/session`` (both protocols)."""
    return await client.post("/v1/sso/session", json={"code": code, "refresh_mode": refresh_mode})


async def sign_in(
    client: Client,
    idp: TestIdp,
    *,
    name_id: str,
    attributes: dict[str, list[str]] | None = None,
    org: str = ORG,
    **assertion_args: Any,
) -> dict[str, Any]:
    """A whole SAML sign-in through the real endpoints; the session the web app would get."""
    started = await start(client, org)
    assertion = idp.assertion(
        in_response_to=started.request_id,
        audience=started.sp_entity_id,
        recipient=started.acs_url,
        name_id=name_id,
        attributes=attributes,
        **assertion_args,
    )
    page = await post_acs(
        client, idp.response(assertion, in_response_to=started.request_id, destination=started.acs_url), org
    )
    assert page.status_code == 200, page.text
    exchanged = await exchange(client, code_of(page.text))
    assert exchanged.status_code == 200, exchanged.text
    session: dict[str, Any] = exchanged.json()
    return session


def assert_refused(response: Any, code: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    data = page_data(response.text)
    assert data == {"page": "sso-error", "protocol": "saml", "code": code}, data
    assert "code=" not in response.text


def new_email(prefix: str = "saml") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@demo.test"


async def users_with_email(settings: Settings, email: str) -> list[Any]:
    return await owner_sql(settings, "select id from users where email = :email", {"email": email})


async def audit_actions(settings: Settings, entity_id: str) -> list[str]:
    rows = await owner_sql(
        settings, "select action from audit_log where entity_id = :id order by created_at", {"id": entity_id}
    )
    return [str(r[0]) for r in rows]
