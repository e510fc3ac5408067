"""The AI usage dashboard in the browser (issue 17 §4): after a few offline-tutor turns and a rollup refresh,
an admin sees the turns chart drawn from real data, and its table view shows the same series and figures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.config import Settings
from app.db.engine import Database
from app.domain.insights.rollup import RefreshResult, refresh_all
from tests.e2e.conftest import nav_link, shot, sign_in
from tests.e2e.test_learner_journey import COURSE, _open_first_item, fresh_conversation
from tests.support.stack import bearer_for

pytestmark = pytest.mark.e2e
T = TypeVar("T")
QUESTIONS = ("What does a web server remember between two requests?", "Why would it remember nothing at all?")


def _in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a thread of its own: Playwright's sync API owns this thread's loop."""
    out: list[T] = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(work())))  # type: ignore[arg-type]
    thread.start()
    thread.join(timeout=120)
    assert out, "the refresh did not finish"
    return out[0]


def _refresh(settings: Settings) -> RefreshResult:
    async def run() -> RefreshResult:
        db = Database.from_settings(settings)
        try:
            return await refresh_all(db)
        finally:
            await db.dispose()

    return _in_thread(run)


def test_an_admin_sees_tutor_turns_on_a_chart_and_in_its_table(
    page: Page, browser: Browser, live_url: str, settings: Settings, seeded: Any
) -> None:
    sign_in(page, live_url)
    page.goto(f"{live_url}/catalog")
    page.get_by_role("link", name=COURSE, exact=True).click()
    _open_first_item(page)
    fresh_conversation(page)
    for question in QUESTIONS:
        page.get_by_label("Message to the tutor").fill(question)
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_test_id("tutor-reply").last).to_have_attribute("data-status", "done")
    _refresh(settings)

    usage = httpx.get(
        f"{live_url}/v1/admin/ai/usage",
        params={"group_by": "model", "bucket": "hour"},
        headers=bearer_for(live_url, "admin@demo.test"),
    )
    assert usage.status_code == 200, usage.text
    series = usage.json()["series"]
    assert sum(p["turns"] for s in series for p in s["points"]) >= len(QUESTIONS)

    admin = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        dashboard = admin.new_page()
        sign_in(dashboard, live_url, "admin@demo.test")
        nav_link(dashboard, "AI usage").click()
        dashboard.get_by_role("heading", level=1, name="AI usage").wait_for()
        dashboard.get_by_label("Range").select_option("24h")
        dashboard.get_by_label("Points").select_option("hour")
        turns = dashboard.get_by_test_id("chart-turns")
        expect(turns.get_by_role("heading", name="Turns")).to_be_visible()
        expect(turns.locator("canvas")).to_have_count(1)  # uPlot drew it
        for s in series:
            expect(turns.locator(".u-legend")).to_contain_text(s["key"] or "(none)")
        shot(dashboard, "ai-usage-01-charts")

        turns.get_by_role("button", name="Show table").click()
        table = turns.get_by_role("table")
        expect(table).to_be_visible()
        for s in series:
            expect(table.get_by_role("columnheader", name=s["key"] or "(none)", exact=True)).to_be_visible()
        # The latest hour holds this test's turns (the worker's cron may add others' meanwhile: at least).
        cells = table.get_by_role("row").last.get_by_role("cell").all_inner_texts()
        assert max(int(c.replace(",", "")) for c in cells if c.strip() not in ("", "—")) >= 1, cells
        expect(turns.get_by_role("button", name="Show chart")).to_have_attribute("aria-pressed", "true")
        shot(dashboard, "ai-usage-02-turns-table")
    finally:
        admin.close()
