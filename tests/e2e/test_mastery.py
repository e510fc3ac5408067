"""Mastery and competency gates in a real browser (issue 12 §4-§5): a gated quiz says which skill it needs
and what to do, the exercise opens it, and "My learning" shows mastery as bars that read as a table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_assessments_and_review import _api, _course
from tests.e2e.test_learner_journey import COURSE, _new_learner

pytestmark = pytest.mark.e2e


def test_a_gated_quiz_names_the_skill_and_the_exercise_opens_it(page: Page, live_url: str) -> None:
    email = _new_learner(live_url)
    api = _api(live_url, email)
    course = _course(api)
    api.post(f"/v1/courses/{course['id']}/enrollments")
    for slug in ("http-request-lifecycle", "designing-resources"):
        api.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")
    quiz = course["by_slug"]["http-fundamentals-quiz"]
    exercise = course["by_slug"]["bookmarks-api-design"]

    sign_in(page, live_url, email)
    page.goto(f"{live_url}/courses/{course['id']}/items/{quiz['id']}")
    locked = page.get_by_test_id("locked-item")
    expect(locked).to_contain_text("This item is locked")
    expect(page.get_by_test_id("missing-competencies")).to_contain_text("Designing HTTP APIs: 40% (you are at 20%)")
    pathway = page.get_by_role("navigation", name="Course pathway")
    expect(pathway.locator(f"a[href$='{quiz['id']}']")).to_have_attribute("data-state", "locked")
    expect(pathway).to_contain_text("needs Designing HTTP APIs at 40%")
    shot(page, "60-gated-quiz")
    assert_accessible(page, "a quiz locked by a competency gate")

    # "Do this now" leads to the exercise that practises the skill; marking it done opens the quiz.
    page.get_by_test_id("can-do-next").click()
    expect(page.get_by_role("heading", level=1, name=exercise["title"])).to_be_visible()
    page.get_by_role("button", name="Mark as done").click()
    expect(page.get_by_role("status").filter(has_text="Done")).to_be_visible()
    page.goto(f"{live_url}/courses/{course['id']}/items/{quiz['id']}")
    expect(page.get_by_role("heading", level=1, name=quiz["title"])).to_be_visible()
    expect(page.get_by_test_id("locked-item")).to_have_count(0)
    expect(page.locator("fieldset.question").first).to_be_visible()
    shot(page, "61-gate-opened")


def test_my_learning_shows_mastery_as_bars_read_as_a_table(page: Page, live_url: str) -> None:
    email = _new_learner(live_url)
    api = _api(live_url, email)
    course = _course(api)
    api.post(f"/v1/courses/{course['id']}/enrollments")
    for slug in ("http-request-lifecycle", "designing-resources", "bookmarks-api-design"):
        api.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")

    sign_in(page, live_url, email)
    table = page.get_by_role("table", name=COURSE)
    expect(table).to_be_visible()
    # The accessible structure: column headers, then one row per competency with its figures.
    expect(table.get_by_role("columnheader")).to_have_text(["Competency", "Mastery", "Evidence", "Last evidence"])
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Designing HTTP APIs"))
    expect(row.get_by_role("cell").nth(0)).to_have_text("49%")  # 0.2 -> 0.49 (docs/adaptive.md, guess 0.15)
    expect(row.get_by_role("cell").nth(1)).to_have_text("1 attempt")
    other = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Relational data modelling"))
    expect(other.get_by_role("cell").nth(0)).to_have_text("20%")
    expect(other.get_by_role("cell").nth(1)).to_have_text("none yet")
    bar = row.locator(".mastery-fill")
    expect(bar).to_have_attribute("style", re.compile(r"width:\s*49%"))
    shot(page, "62-mastery-chart")
    assert_accessible(page, "My learning with the mastery chart")
