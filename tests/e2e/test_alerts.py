"""Budgets and alerts in a real browser (issue 17 item 5): the admin page shows this month's spend with its
month-end projection; an admin adds an alert rule in the form; a guardrail trips; the alert appears on the
instructors' live feed and in the alerts list, where an instructor acknowledges it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.config import Settings
from app.db.engine import Database
from app.domain.alerts.evaluation import evaluate_all
from app.lib.events import EventBus
from app.lib.redis import create_redis
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import nav_link, shot, sign_in
from tests.e2e.test_instructor_feed import _learner_trips_a_guardrail

pytestmark = pytest.mark.e2e


def _evaluate_now(settings: Settings) -> None:
    """What the worker's every-minute cron does, now (on a thread: Playwright's sync API owns this one)."""

    async def run() -> None:
        db, redis = Database.from_settings(settings), create_redis(settings.redis_url)
        try:
            await evaluate_all(db, EventBus(redis, settings.redis_key_prefix))
        finally:
            await redis.aclose()
            await db.dispose()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    thread.join(timeout=120)


def test_spend_projection_rule_form_feed_and_acknowledgement(
    page: Page, live_url: str, settings: Settings, seeded: Any
) -> None:
    sign_in(page, live_url, "admin@demo.test")
    spend = page.get_by_test_id("spend")
    expect(spend.get_by_role("heading", name="AI spend this month")).to_be_visible()
    expect(spend.get_by_role("rowheader", name="Whole organization")).to_be_visible()
    expect(spend).to_contain_text("of the month has gone")

    page.get_by_role("link", name="Alerts and alert rules").click()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    rules = page.get_by_test_id("alert-rules")
    rules.get_by_label("Alert when").select_option("guardrail_spike")
    threshold = rules.get_by_label("Threshold (messages)")
    threshold.fill("0")
    rules.get_by_role("button", name="Add rule").click()
    expect(rules.get_by_role("alert")).to_contain_text("Between 1 and")  # checked before it is sent
    threshold.fill("1")
    rules.get_by_label("Over the last").select_option("10080")
    rules.get_by_role("button", name="Add rule").click()
    expect(rules.get_by_test_id("rule-list")).to_contain_text("Guardrails act on 1 or more messages in the last 7 days")
    assert_accessible(page, "alerts page")

    _learner_trips_a_guardrail(live_url)
    _evaluate_now(settings)

    instructor = page.context.browser.new_context() if page.context.browser else None
    assert instructor is not None
    staff = instructor.new_page()
    try:
        sign_in(staff, live_url, "instructor@demo.test")
        expect(staff.get_by_text("Alert: guardrails are acting more than usual").first).to_be_visible()
        nav_link(staff, "Alerts").click()
        table = staff.get_by_test_id("alerts-table")
        row = table.get_by_role("row").filter(has_text="Guardrails acted on").first
        expect(row).to_contain_text("Firing")
        shot(staff, "alerts-list")
        row.get_by_role("button", name="Acknowledge").click()
        expect(staff.get_by_role("status").filter(has_text="Acknowledged")).to_be_visible()
    finally:
        instructor.close()

    # Tidy: switch the rule off (the demo org's later tests need no alert firing every minute).
    page.reload()
    page.get_by_test_id("rule-list").get_by_role("button", name="Switch off").first.click()
    expect(page.get_by_test_id("rule-list")).to_contain_text("Off")
