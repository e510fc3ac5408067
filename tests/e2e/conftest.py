"""Browser tests: real headless Chromium (Debian's package) driven by Playwright, against a running Lyceum.

Playwright cannot download its own browser here, so it launches the system executable. When Chromium or
the built web app is missing the tests skip with the reason, unless LYCEUM_E2E_REQUIRED=1 (set by
`make test` / `.ci/run`, which install both), where a missing piece fails the run instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from app.asgi import FRONTEND_DIST
from app.config import Settings
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.stack import make_settings, run_live_server

ROOT = Path(__file__).resolve().parents[2]
# Waits are conditions, never clocks: these bound only a broken page. Playwright's 5 s default for
# `expect` failed on a 2-core machine with a load average of 12 while the page was merely slow.
UI_TIMEOUT_MS = 30_000
expect.set_options(timeout=UI_TIMEOUT_MS)
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEMO_PASSWORD = "lyceum-demo"


def _chromium() -> str | None:
    for candidate in (os.environ.get("LYCEUM_CHROMIUM", ""), "/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _missing() -> str | None:
    if _chromium() is None:
        return "Chromium is not installed (apt-get install chromium, or set LYCEUM_CHROMIUM)"
    if not (FRONTEND_DIST / "index.html").is_file():
        return "the web app is not built (make frontend)"
    return None


@pytest.fixture(scope="session")
def grading_worker(settings: Settings, seeded: Any) -> Iterator[None]:
    """A SAQ worker for the live server's queue, on its own thread and event loop, like `lyceum up` runs one."""
    import asyncio
    import threading

    from jobs.worker import create_worker

    loop = asyncio.new_event_loop()
    worker = create_worker(settings, handle_signals=False)
    thread = threading.Thread(target=loop.run_until_complete, args=(worker.start(),), daemon=True)
    thread.start()
    yield
    asyncio.run_coroutine_threadsafe(worker.stop(), loop).result(timeout=20)
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser(web_url: str, live_url: str, grading_worker: None) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread while the browser is open, so every
    # fixture that needs asyncio.run (databases, seeding, servers) is set up first, through these arguments,
    # and the browser closes with its module, before other test files (async ones) run in this worker.
    reason = _missing()
    if reason:
        if os.environ.get("LYCEUM_E2E_REQUIRED") == "1":
            pytest.fail(f"browser tests cannot run: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def web_url(
    settings: Settings, seeded: Any, fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Lyceum with the tutor on the real SDK against the fake Messages API server (tokens arrive over time)."""
    from app.asgi import create_app

    web = make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "web:",
        Path(tmp_path_factory.mktemp("web")),
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic_server.base_url,
        LYCEUM_TUTOR_RATE_LIMIT_TUTOR_USER="1000/1s",
    )
    url, server, thread = run_live_server(create_app(web))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    return page


def shot(page: Page, name: str) -> None:
    """Save a screenshot as a test artifact (test-artifacts/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# Where each demo role lands after signing in (learners: their courses).
LANDING = {"admin@demo.test": "Administration", "instructor@demo.test": "Live feed"}


# The top bar's staff and admin pages sit behind a button each (frontend/src/components/NavMenu.tsx).
NAV_GROUPS = {
    "Teach": (
        "Live feed",
        "Review queue",
        "Grading quality",
        "Credentials",
        "Authoring",
        "AI usage",
        "Alerts",
        "Progress",
    ),
    "Admin": ("Administration", "People", "Courses", "Prompts and experiments"),
}


def nav_link(page: Page, name: str) -> Locator:
    """The top bar's link ``name`` (exact), its group opened first when it is in one ("Teach", "Admin")."""
    nav = page.get_by_role("navigation", name="Main")
    group = next((label for label, names in NAV_GROUPS.items() if name in names), None)
    if group is not None:
        button = nav.get_by_role("button", name=group, exact=True)
        if button.get_attribute("aria-expanded") != "true":
            button.click()
    return nav.get_by_role("link", name=name, exact=True)


def sign_in(
    page: Page, base: str, email: str = "learner@demo.test", org: str = "demo", landing: str | None = None
) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Organisation").fill(org)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=landing or LANDING.get(email, "My learning"), exact=True).wait_for()
