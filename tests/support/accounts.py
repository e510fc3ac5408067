"""Accounts for the auth tests: a fresh member of the demo org, bearer headers, and the cookie-mode sign-in
(Set-Cookie lines by name, the refresh cookie and its CSRF token)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.stack import DEMO_PASSWORD, auth_headers

Client = AsyncTestClient[Litestar]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def new_member(client: Client, roles: tuple[str, ...] = ("learner",), **fields: Any) -> dict[str, Any]:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    body = {
        "email": f"acct-{uuid.uuid4().hex[:10]}@demo.test",
        "name": "Pat Person",
        "roles": list(roles),
        "password": DEMO_PASSWORD + "-1",
        **fields,
    }
    created = await client.post("/v1/users", headers=admin, json=body)
    assert created.status_code == 201, created.text
    return {**created.json(), "password": body["password"]}


def set_cookies(response: Any) -> dict[str, str]:
    """Set-Cookie headers by cookie name (the whole header line, attributes included)."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def cookie_value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1].strip('"')


async def cookie_login(client: Client, user: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    response = await client.post(
        "/v1/auth/login",
        json={"email": user["email"], "password": user["password"], "org": "demo", "refresh_mode": "cookie"},
    )
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    return response.json(), cookie_value(cookies["lyceum_refresh"]), cookie_value(cookies["lyceum_csrf"])


async def cookie_refresh(client: Client, refresh: str, csrf: str | None) -> Any:
    headers = {"Cookie": f"lyceum_refresh={refresh}"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return await client.post("/v1/auth/refresh", headers=headers)
