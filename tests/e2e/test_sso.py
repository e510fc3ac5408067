"""Single sign-on in a real browser (issue 16, docs/sso.md): the sign-in page's "Sign in with …" button, the
round trip through the test OIDC provider (tests/support/oidc_provider.py, which signs in the person the test
chose) and the web app's `/sso/complete` code exchange, a refused sign-in's error page, and the admin's
"Single sign-on" section saving a connection and requiring SSO.

Everything happens in a fresh organisation made for this module (its admin and learner have the demo
password), so requiring SSO there cannot lock any other test out. Lyceum runs on its own live server whose
public URL is its real address: the OIDC redirect URI is built from it and must reach this server.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from app.config import Settings
from app.server.embedded import free_port
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import CHROMIUM_FLAGS, UI_TIMEOUT_MS, _chromium, _missing, shot, sign_in
from tests.support.databases import owner_sql
from tests.support.oidc_provider import Issuer, OidcProvider, running_oidc_provider
from tests.support.stack import bearer_for, make_settings, run_live_server

pytestmark = pytest.mark.e2e

T = TypeVar("T")
BUTTON_NAME = "Campus ID"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run from a thread: Playwright's sync API keeps its own loop on the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class SsoStack:
    url: str  # Lyceum, also its public URL
    settings: Settings
    org: str  # the fresh organisation's slug
    admin: str  # its admin's email (demo password)
    learner: str  # a learner of it (demo password)


async def _fresh_org(settings: Settings) -> tuple[str, str, str]:
    """A new organisation with an admin and a learner whose password is the demo one (the hash is copied
    from the seeded demo learner, so no hashing parameters are repeated here)."""
    tag = uuid.uuid4().hex[:10]
    org_id, slug, now = uuid.uuid4(), f"sso-e2e-{tag}", datetime.now(UTC)
    await owner_sql(
        settings,
        "insert into organizations (id, slug, name, settings, created_at, updated_at) "
        "values (:id, :slug, 'SSO College', '{}'::jsonb, :now, :now)",
        {"id": org_id, "slug": slug, "now": now},
    )
    people = {"admin": f"admin-{tag}@college.test", "learner": f"learner-{tag}@college.test"}
    for role, email in people.items():
        user_id = uuid.uuid4()
        await owner_sql(
            settings,
            "insert into users (id, email, name, password_hash, is_active, token_version, created_at, updated_at) "
            "select :id, :email, :name, password_hash, true, 0, :now, :now from users "
            "where email = 'learner@demo.test'",
            {"id": user_id, "email": email, "name": f"College {role.title()}", "now": now},
        )
        await owner_sql(
            settings,
            "insert into memberships (id, org_id, user_id, role, created_at, updated_at) "
            "values (:id, :org, :user, :role, :now, :now)",
            {"id": uuid.uuid4(), "org": org_id, "user": user_id, "role": role, "now": now},
        )
    return slug, people["admin"], people["learner"]


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProvider]:
    with running_oidc_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def sso_stack(
    settings: Settings, seeded: Any, tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[SsoStack]:
    from app.asgi import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "sso-web:",
        Path(tmp_path_factory.mktemp("sso-web")),
        LYCEUM_PUBLIC_URL=url,
    )
    _, server, thread = run_live_server(create_app(web), port=port)
    slug, admin, learner = _run(_fresh_org(web))
    yield SsoStack(url=url, settings=web, org=slug, admin=admin, learner=learner)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(sso_stack: SsoStack) -> Iterator[Browser]:
    """This module's browser (conftest's `context` and `page` use it): opened after every fixture that needs
    asyncio.run, and without the tutor's servers and grading worker the other browser tests need."""
    reason = _missing()
    if reason:
        if os.environ.get("LYCEUM_E2E_REQUIRED") == "1":
            pytest.fail(f"browser tests cannot run: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


def _admin_api(stack: SsoStack, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.request(
        method, f"{stack.url}{path}", json=body, headers=bearer_for(stack.url, stack.admin, stack.org), timeout=60
    )


def _connect(stack: SsoStack, issuer: Issuer, **fields: Any) -> None:
    """The org's OIDC connection pointing at ``issuer`` (through the admin API; the admin page has its own test)."""
    body = {
        "display_name": BUTTON_NAME,
        "issuer": issuer.url,
        "client_id": issuer.client_id,
        "client_secret": issuer.client_secret,
        **fields,
    }
    response = _admin_api(stack, "PUT", "/v1/admin/sso/oidc", body)
    assert response.status_code == 200, response.text


def _users(stack: SsoStack, email: str) -> list[Any]:
    return _run(owner_sql(stack.settings, "select id from users where email = :email", {"email": email}))


def _identities(stack: SsoStack, subject: str) -> list[Any]:
    return _run(
        owner_sql(stack.settings, "select user_id from sso_identities where subject = :subject", {"subject": subject})
    )


def _refresh_cookie(context: BrowserContext) -> str | None:
    return next((str(c["value"]) for c in context.cookies() if c["name"] == "lyceum_refresh"), None)


def _open_sign_in(page: Page, stack: SsoStack) -> None:
    page.goto(f"{stack.url}/login")
    page.get_by_label("Organisation").fill(stack.org)


def _sso_button(page: Page, name: str = BUTTON_NAME) -> Any:
    return page.get_by_role("group", name="Single sign-on").get_by_role("link", name=f"Sign in with {name}")


def test_sign_in_with_the_org_provider_lands_signed_in_and_the_same_identity_is_the_same_user(
    page: Page, context: BrowserContext, sso_stack: SsoStack, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    _connect(sso_stack, issuer)
    subject, email = f"sub-{uuid.uuid4().hex[:8]}", f"sam-{uuid.uuid4().hex[:8]}@college.test"
    issuer.sign_in_as(subject, email, name="Sam Sso")

    page.goto(f"{sso_stack.url}/login")
    page.get_by_label("Organisation").fill("demo")  # an org without SSO: no button
    page.get_by_label("Organisation").fill(sso_stack.org)
    button = _sso_button(page)
    expect(button).to_be_visible()
    expect(page.get_by_text("Or use your organisation's account:")).to_be_visible()
    shot(page, "sso-01-sign-in-button")
    assert_accessible(page, "the sign-in page with a single sign-on button")

    button.click()  # Lyceum -> the provider (auto-approves the chosen person) -> Lyceum -> /sso/complete -> home
    expect(page.get_by_role("heading", name="My learning", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Sam Sso · {sso_stack.org}")).to_be_visible()
    assert urlsplit(page.url).path in {"/", "/learning"}, page.url  # a learner's home
    assert "code=" not in page.url  # the one-time code left the address bar
    assert issuer.count("token") == 1
    assert _refresh_cookie(context) is not None  # a session like a password sign-in's: the HttpOnly cookie
    shot(page, "sso-02-signed-in")

    page.reload()  # the session survives a reload (the cookie is exchanged again)
    expect(page.get_by_role("heading", name="My learning", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Sam Sso · {sso_stack.org}")).to_be_visible()

    [first] = _users(sso_stack, email)
    assert [row[0] for row in _identities(sso_stack, subject)] == [first[0]]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    assert _refresh_cookie(context) is None

    # Signing in again with the same identity is the same user, not a second account; and a page asked for
    # while signed out is where the sign-in ends (the button carries it as `next` through the provider).
    page.goto(f"{sso_stack.url}/catalog")
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    page.get_by_label("Organisation").fill(sso_stack.org)
    _sso_button(page).click()
    expect(page.get_by_role("heading", name="Course catalogue")).to_be_visible()
    expect(page.get_by_text(f"Sam Sso · {sso_stack.org}")).to_be_visible()
    assert urlsplit(page.url).path == "/catalog"
    assert issuer.count("token") == 2
    assert [row[0] for row in _users(sso_stack, email)] == [first[0]]
    assert [row[0] for row in _identities(sso_stack, subject)] == [first[0]]


def _assert_server_page_accessible(browser: Browser, document: str, where: str) -> None:
    """axe on a page Lyceum's server renders: its CSP (one nonce'd script) rightly stops axe being injected,
    so the same HTML is checked in a context that bypasses CSP."""
    checking = browser.new_context(bypass_csp=True)
    try:
        copy = checking.new_page()
        copy.set_content(document)
        assert_accessible(copy, where)
    finally:
        checking.close()


def test_a_refused_sign_in_shows_the_error_page_and_starts_no_session(
    page: Page, context: BrowserContext, browser: Browser, sso_stack: SsoStack, oidc_provider: OidcProvider
) -> None:
    issuer = oidc_provider.new_issuer()
    _connect(sso_stack, issuer, allowed_domains=["college.test"])
    email = f"visitor-{uuid.uuid4().hex[:8]}@elsewhere.test"
    issuer.sign_in_as(f"sub-{uuid.uuid4().hex[:8]}", email, name="Vera Visitor")

    _open_sign_in(page, sso_stack)
    with page.expect_response(re.compile(r"/v1/auth/sso/[^/]+/callback")) as callback:
        _sso_button(page).click()
    assert callback.value.status == 403
    expect(page.get_by_role("heading", name="Single sign-on could not be completed")).to_be_visible()
    expect(page.get_by_text("Accounts of elsewhere.test may not sign in here.")).to_be_visible()
    expect(page.locator("code")).to_have_text("not_allowed")  # the reason to give an administrator
    shot(page, "sso-03-refused")
    _assert_server_page_accessible(browser, page.content(), "the single sign-on error page")
    assert _refresh_cookie(context) is None
    assert _users(sso_stack, email) == []

    # Back to sign-in: the organisation is filled in again, so its button is right there.
    page.get_by_role("link", name="Back to sign-in").click()
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    expect(page.get_by_label("Organisation")).to_have_value(sso_stack.org)
    expect(_sso_button(page)).to_be_visible()
    page.goto(f"{sso_stack.url}/learning")
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()  # no session was started

    # A hand-off code that is made up (or already used) ends on the web app's own explanation, not signed in.
    page.goto(f"{sso_stack.url}/sso/complete?code=not-a-real-code")
    expect(page.get_by_role("heading", name="We couldn't sign you in")).to_be_visible()
    expect(page.get_by_text("This sign-in link has expired or was already used.")).to_be_visible()
    assert urlsplit(page.url).query == ""  # the code left the address bar
    assert_accessible(page, "the web app's failed sign-in page")
    page.get_by_role("link", name="Back to sign-in").click()
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    assert _refresh_cookie(context) is None


def test_the_admin_saves_a_connection_and_requires_sso_then_members_are_sent_to_it(
    page: Page, browser: Browser, sso_stack: SsoStack, oidc_provider: OidcProvider
) -> None:
    # Start from no connection, so the section's empty state is what the admin meets first.
    httpx.delete(
        f"{sso_stack.url}/v1/admin/sso/oidc", headers=bearer_for(sso_stack.url, sso_stack.admin, sso_stack.org)
    )
    issuer = oidc_provider.new_issuer()
    try:
        sign_in(page, sso_stack.url, email=sso_stack.admin, org=sso_stack.org, landing="Administration")
        section = page.get_by_test_id("sso-admin")
        expect(section.get_by_role("heading", name="Single sign-on", level=2)).to_be_visible()
        form = section.get_by_role("form", name=re.compile("^OpenID Connect"))
        expect(form.get_by_text("Not set up yet.")).to_be_visible()
        switch = section.get_by_role("switch", name="Require single sign-on for members")
        expect(switch).not_to_be_checked()
        section.scroll_into_view_if_needed()
        assert_accessible(page, "the admin page's Single sign-on section, nothing set up")

        form.get_by_label("Issuer URL").fill(issuer.url)
        form.get_by_label("Client ID").fill(issuer.client_id)
        form.get_by_label("Client secret").fill(issuer.client_secret)
        form.get_by_label("Button text").fill("College Login")
        form.get_by_label("Allowed email domains").fill("college.test")
        form.get_by_role("button", name="Save").click()
        expect(form.get_by_role("status")).to_have_text(
            "OpenID Connect sign-in saved. Lyceum reached your identity provider."
        )
        redirect_uri = f"{sso_stack.url}/v1/auth/sso/{sso_stack.org}/callback"
        expect(form.locator("code")).to_have_text(redirect_uri)
        assert issuer.count(".well-known/openid-configuration") >= 1  # saving checked the provider
        expect(form.get_by_label("Client secret")).to_have_value("")  # the secret is never shown back
        expect(form.get_by_text("A secret is stored (it is never shown).")).to_be_visible()

        switch.check()
        expect(section.get_by_text("Members now sign in with single sign-on only.")).to_be_visible()
        expect(switch).to_be_checked()
        shot(page, "sso-04-admin-section")
        assert_accessible(page, "the admin page's Single sign-on section, connection saved and SSO required")

        # A member's password is refused with the SSO-required message; the button is offered instead.
        member = browser.new_context(viewport={"width": 1366, "height": 900})
        try:
            other = member.new_page()
            other.set_default_timeout(UI_TIMEOUT_MS)
            _open_sign_in(other, sso_stack)
            other.get_by_label("Email").fill(sso_stack.learner)
            other.get_by_label("Password").fill("lyceum-demo")
            expect(_sso_button(other, "College Login")).to_be_visible()
            expect(other.get_by_text("This organisation signs in with single sign-on.")).to_be_visible()
            other.get_by_role("button", name="Sign in").click()
            alert = other.get_by_role("alert")
            expect(alert).to_contain_text("sign in with single sign-on, not a password")
            expect(alert).to_contain_text('"Sign in with College Login"')
            expect(other.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
            assert _refresh_cookie(member) is None
            shot(other, "sso-05-sso-required")
            assert_accessible(other, "the sign-in page refusing a member's password (SSO required)")

            # Break-glass: the admin's password still works.
            other.get_by_label("Email").fill(sso_stack.admin)
            other.get_by_role("button", name="Sign in").click()
            expect(other.get_by_role("heading", name="Administration", exact=True)).to_be_visible()
        finally:
            member.close()
    finally:
        _admin_api(sso_stack, "PUT", "/v1/admin/sso/settings", {"sso_required": False})
