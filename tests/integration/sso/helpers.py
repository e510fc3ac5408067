"""Helpers of the SSO tests: configure an org's OIDC connection through the admin API and play the browser
through login -> provider -> callback -> the web app's code exchange."""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.databases import owner_sql
from tests.support.oidc_provider import Issuer
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


async def configure(client: Client, issuer: Issuer, org: str = "demo", **fields: Any) -> dict[str, Any]:
    """PUT the org's OIDC connection (as its admin) pointing at ``issuer``."""
    body: dict[str, Any] = {
        "display_name": "Test IdP",
        "issuer": issuer.url,
        "client_id": issuer.client_id,
        "client_secret": issuer.client_secret,
        **fields,
    }
    response = await client.put(
        "/v1/admin/sso/oidc", json=body, headers=await auth_headers(client, f"admin@{org}.test", org)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def page_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="sso-data">(.*?)</script>', page, re.DOTALL)
    assert match, page
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


@dataclass
class Callback:
    """The provider's redirect back to Lyceum (path and query), ready to be followed (or replayed)."""

    path: str
    state: str


async def start(client: Client, org: str = "demo", next_path: str | None = None) -> Callback:
    """Login at Lyceum, then the provider's authorize endpoint: the callback it sends the browser to."""
    params = {"next": next_path} if next_path else None
    response = await client.get(f"/v1/auth/sso/{org}/login", params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    authorize = response.headers["location"]
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    return Callback(path=f"{back.path}?{back.query}", state=parse_qs(back.query)["state"][0])


async def finish(client: Client, callback: Callback) -> httpx.Response:
    response: httpx.Response = await client.get(callback.path)
    return response


def code_of(page: str) -> str:
    data = page_data(page)
    url = urlsplit(str(data["next"]))
    assert url.path == "/sso/complete", data
    return parse_qs(url.query)["code"][0]


async def sign_in(
    client: Client, org: str = "demo", refresh_mode: str = "body", next_path: str | None = None
) -> dict[str, Any]:
    """The whole flow; the session the web app gets."""
    page = await finish(client, await start(client, org, next_path))
    assert page.status_code == 200, page.text
    response = await client.post("/v1/sso/session", json={"code": code_of(page.text), "refresh_mode": refresh_mode})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def refused(client: Client, callback: Callback) -> tuple[int, str]:
    """Follow a callback that must fail: (status, the error page's code)."""
    response = await finish(client, callback)
    assert response.status_code >= 400, response.text
    assert response.status_code < 500, response.text
    return response.status_code, str(page_data(response.text)["code"])


def new_email(domain: str = "sso.test") -> str:
    return f"sso-{uuid.uuid4().hex[:10]}@{domain}"


async def user_by_email(settings: Settings, email: str) -> list[Any]:
    return await owner_sql(settings, "select id, password_hash from users where email = :email", {"email": email})


async def roles_in(settings: Settings, user_id: Any, org: str = "demo") -> list[str]:
    rows = await owner_sql(
        settings,
        "select m.role from memberships m join organizations o on o.id = m.org_id "
        "where m.user_id = :user and o.slug = :org order by m.role",
        {"user": user_id, "org": org},
    )
    return [str(r[0]) for r in rows]


async def identities(settings: Settings, subject: str) -> list[Any]:
    return await owner_sql(
        settings, "select user_id, org_id, email from sso_identities where subject = :subject", {"subject": subject}
    )
