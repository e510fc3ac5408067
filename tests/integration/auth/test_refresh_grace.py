"""Tabs refreshing together (a browser restoring a session): the immediately previous refresh token,
presented again within LYCEUM_REFRESH_REUSE_GRACE_SECONDS of its rotation, gets the same new pair;
anything else (later, an older token, a token whose successor moved on) is still reuse and ends the login."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from tests.support.accounts import (
    bearer,
    cookie_login,
    cookie_refresh,
    cookie_value,
    new_member,
    set_cookies,
)
from tests.support.refresh_grace import age_rotation
from tests.support.stack import make_settings

Client = AsyncTestClient[Litestar]


async def test_concurrent_cookie_refreshes_share_one_new_pair(client: Client) -> None:
    user = await new_member(client)
    _, refresh, csrf = await cookie_login(client, user)
    # Three tabs, one cookie, all at once.
    answers = await asyncio.gather(*(cookie_refresh(client, refresh, csrf) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    pairs = {(a.json()["access_token"], cookie_value(set_cookies(a)["lyceum_refresh"])) for a in answers}
    assert len(pairs) == 1  # the same new pair for every tab
    ((access, new_refresh),) = pairs
    assert new_refresh != refresh
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {access}"})).status_code == 200
    # The shared successor is the live token: it rotates as usual.
    onward = await cookie_refresh(client, new_refresh, csrf)
    assert onward.status_code == 200, onward.text


async def test_body_refresh_within_the_grace_gets_the_same_pair(client: Client) -> None:
    user = await new_member(client)
    login = await client.post(
        "/v1/auth/login", json={"email": user["email"], "password": user["password"], "org": "demo"}
    )
    first = login.json()["refresh_token"]
    one = await client.post("/v1/auth/refresh", json={"refresh_token": first})
    two = await client.post("/v1/auth/refresh", json={"refresh_token": first})
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json()


async def test_reuse_after_the_grace_window_still_revokes_the_login(client: Client, settings: Settings) -> None:
    user = await new_member(client)
    _, refresh, csrf = await cookie_login(client, user)
    rotated = await cookie_refresh(client, refresh, csrf)
    assert rotated.status_code == 200
    new_refresh = cookie_value(set_cookies(rotated)["lyceum_refresh"])
    await age_rotation(settings.database_url, refresh)  # the rotation is now older than the grace
    reuse = await cookie_refresh(client, refresh, csrf)
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    assert (await cookie_refresh(client, new_refresh, csrf)).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(rotated.json()))).status_code == 401


async def test_an_older_token_is_reuse_even_within_the_grace(client: Client) -> None:
    """Only the immediately previous token is forgiven: once its successor has rotated too, it is theft."""
    user = await new_member(client)
    _, first, csrf = await cookie_login(client, user)
    second = cookie_value(set_cookies(await cookie_refresh(client, first, csrf))["lyceum_refresh"])
    third_answer = await cookie_refresh(client, second, csrf)
    assert third_answer.status_code == 200
    third = cookie_value(set_cookies(third_answer)["lyceum_refresh"])
    assert (await cookie_refresh(client, first, csrf)).status_code == 401
    assert (await cookie_refresh(client, third, csrf)).status_code == 401  # the whole login ended


@pytest.fixture(scope="module")
async def no_grace(settings: Settings, seeded: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(
        make_settings(
            settings.database_url,
            settings.redis_url,
            settings.redis_key_prefix + "nograce:",
            Path(tmp_path_factory.mktemp("nograce")),
            LYCEUM_REFRESH_REUSE_GRACE_SECONDS="0",
        )
    )
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_a_grace_of_zero_treats_any_second_use_as_reuse(no_grace: Client) -> None:
    user = await new_member(no_grace)
    _, refresh, csrf = await cookie_login(no_grace, user)
    assert (await cookie_refresh(no_grace, refresh, csrf)).status_code == 200
    assert (await cookie_refresh(no_grace, refresh, csrf)).status_code == 401
