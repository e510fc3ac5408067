"""The web app's session in a real browser: the refresh token lives in an HttpOnly cookie (out of reach of
scripts), a reload keeps you signed in, signing out ends the session and clears the cookie."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.config import Settings
from tests.e2e.conftest import shot, sign_in
from tests.support.refresh_grace import age_rotation_sync

pytestmark = pytest.mark.e2e


def _cookies(context: BrowserContext) -> dict[str, dict[str, object]]:
    return {str(c["name"]): dict(c) for c in context.cookies()}


def test_refresh_cookie_survives_reload_and_sign_out_clears_it(
    page: Page, context: BrowserContext, live_url: str
) -> None:
    sign_in(page, live_url)
    cookies = _cookies(context)
    refresh = cookies["lyceum_refresh"]
    assert refresh["httpOnly"] is True
    assert refresh["secure"] is True
    assert refresh["sameSite"] == "Strict"
    assert refresh["path"] == "/v1/auth/refresh"
    assert cookies["lyceum_csrf"]["httpOnly"] is False
    # Nothing a script can read holds a refresh token any more: not storage, not document.cookie.
    readable = page.evaluate(
        "JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage}) + document.cookie"
    )
    assert str(refresh["value"]) not in readable
    assert "refresh" not in readable.lower()

    page.reload()
    expect(page.get_by_role("heading", name="My learning")).to_be_visible()  # still signed in after a reload
    rotated = _cookies(context)["lyceum_refresh"]["value"]
    assert rotated != refresh["value"]  # the reload exchanged (rotated) the cookie

    page.goto(f"{live_url}/catalog")  # a full navigation: signed in again from the cookie
    expect(page.get_by_role("heading", name="Course catalogue")).to_be_visible()
    shot(page, "13-signed-in-after-reload")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    assert "lyceum_refresh" not in _cookies(context)
    page.goto(f"{live_url}/learning")
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()  # signed out stays signed out


def test_a_replayed_old_cookie_ends_the_session(
    page: Page, context: BrowserContext, live_url: str, settings: Settings
) -> None:
    """Reuse detection with cookies: someone replaying a rotated refresh cookie (from outside the browser)
    ends that login, so the browser's own, newer cookie stops working too."""
    sign_in(page, live_url)
    old = str(_cookies(context)["lyceum_refresh"]["value"])
    page.reload()
    expect(page.get_by_role("heading", name="My learning")).to_be_visible()
    csrf = str(_cookies(context)["lyceum_csrf"]["value"])
    age_rotation_sync(settings.database_url, old)  # replayed after the grace for tabs refreshing together
    replay = httpx.post(
        f"{live_url}/v1/auth/refresh",
        headers={"X-CSRF-Token": csrf, "Cookie": f"lyceum_refresh={old}", "Content-Type": "application/json"},
        content=b"{}",
    )
    assert replay.status_code == 401
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
