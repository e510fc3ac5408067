"""The instructors' screens in a real browser (issue 10 §4): staff land on their own pages; the live feed
shows what needs action in words, with dates and a working "Resume (N new)"; the queue and grading view
show the learner's dispute reason, which grader graded, per-test results of code in a scrollable
highlighted block and only the rubric that applied; the corrections export downloads with the token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.config import Settings
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import UI_TIMEOUT_MS, nav_link, shot, sign_in
from tests.e2e.test_assessments_and_review import _api, _course, _quiz_key
from tests.e2e.test_instructor_feed import _learner_trips_a_guardrail
from tests.e2e.test_learner_journey import _new_learner
from tests.support.progress import open_assessments_sync

pytestmark = pytest.mark.e2e
DISPUTE = "Question 2 has two defensible answers: the lesson says both are idempotent."

SIZES_JS = """(pre) => {
  const card = pre.closest('.card').getBoundingClientRect();
  const box = pre.getBoundingClientRect();
  return {
    card: [card.left, card.right],
    box: [box.left, box.right],
    scroll: pre.scrollWidth > pre.clientWidth,
    overflow: getComputedStyle(pre).overflowX,
  };
}"""


def _wait_status(api: httpx.Client, submission_id: str, *statuses: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000 * 2  # bounds only a broken worker
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(f"/v1/submissions/{submission_id}").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} never reached {statuses}")


def _disputed_quiz(base: str) -> tuple[httpx.Client, str]:
    """A learner's quiz, graded by the answer key, then contested with a reason."""
    learner = _api(base, _new_learner(base))
    course = _course(learner)
    learner.post(f"/v1/courses/{course['id']}/enrollments")
    # Prerequisites and the quiz's competency gate (http-apis >= 0.4) first: a locked quiz refuses answers.
    for slug in ("http-request-lifecycle", "designing-resources", "bookmarks-api-design"):
        learner.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")
    quiz = course["by_slug"]["http-fundamentals-quiz"]
    assessment = learner.get(f"/v1/items/{quiz['id']}/assessment").json()
    choices = [q["answer"] for q in _quiz_key()]
    submission = learner.post(f"/v1/assessments/{assessment['id']}/submissions", json={"choices": choices}).json()
    graded = _wait_status(learner, submission["id"], "graded")
    assert graded["grader"] == "answer_key"
    disputed = learner.post(f"/v1/submissions/{submission['id']}/disagree", json={"reason": DISPUTE})
    assert disputed.status_code == 200, disputed.text
    return learner, str(submission["id"])


def _code_spec() -> dict[str, Any]:
    import msgspec

    from tests.e2e.conftest import ROOT

    course = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
    spec: dict[str, Any] = next(
        i["assessment"] for m in course["modules"] for i in m["items"] if i.get("assessment", {}).get("type") == "code"
    )
    return spec


def test_staff_land_on_their_own_pages(page: Page, live_url: str) -> None:
    sign_in(page, live_url, "instructor@demo.test")
    expect(page).to_have_url(re.compile(r"/teach/feed$"))
    expect(page.get_by_text("You haven't enrolled")).to_have_count(0)
    shot(page, "40-instructor-landing")
    page.goto(f"{live_url}/")
    expect(page.get_by_role("heading", name="Live feed", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    sign_in(page, live_url, "admin@demo.test")
    expect(page).to_have_url(re.compile(r"/admin$"))
    overview = page.get_by_role("main")
    expect(overview.get_by_role("heading", name="Tutor token budgets")).to_be_visible()
    expect(overview.get_by_role("link", name="Review queue")).to_be_visible()
    shot(page, "41-admin-landing")
    page.goto(f"{live_url}/")
    expect(page.get_by_role("heading", name="Administration", exact=True)).to_be_visible()


def test_the_top_bar_groups_staff_and_admin_pages_in_keyboard_menus(page: Page, live_url: str) -> None:
    """The admin's bar: the learner's links, then "Teach" and "Admin" buttons (disclosures) instead of
    fourteen links wrapping. Enter and Space open, Tab reaches the links, Escape closes and gives focus
    back, a click outside or following a link closes."""
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_url, "admin@demo.test")
    nav = page.get_by_role("navigation", name="Main")
    teach = nav.get_by_role("button", name="Teach", exact=True)
    admin = nav.get_by_role("button", name="Admin", exact=True)
    expect(teach).to_have_attribute("aria-expanded", "false")
    expect(admin).to_have_attribute("aria-expanded", "false")
    expect(admin).to_have_class(re.compile(r"\bactive\b"))  # the admin lands on Administration
    expect(nav.get_by_role("link")).to_have_count(2)  # My learning, Catalogue: the groups' links are hidden
    # One row: the bar does not wrap.
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None
    assert bar["height"] < 80, bar

    teach.focus()
    page.keyboard.press("Enter")
    expect(teach).to_have_attribute("aria-expanded", "true")
    panel = page.locator(f'[id="{teach.get_attribute("aria-controls")}"]')
    expect(panel.get_by_role("link")).to_have_count(8)
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Live feed", exact=True)).to_be_focused()
    assert_accessible(page, "the Teach menu open")
    shot(page, "42-nav-teach-menu")
    page.keyboard.press("Escape")
    expect(teach).to_have_attribute("aria-expanded", "false")
    expect(teach).to_be_focused()

    admin.focus()
    page.keyboard.press(" ")
    expect(admin).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Prompts and experiments")).to_have_attribute("href", "/admin/prompts")
    page.get_by_role("main").click(position={"x": 5, "y": 5})  # outside: closes
    expect(admin).to_have_attribute("aria-expanded", "false")

    nav_link(page, "People").click()
    expect(page).to_have_url(re.compile(r"/admin/people$"))
    expect(admin).to_have_attribute("aria-expanded", "false")


def test_feed_shows_what_needs_action_in_words(page: Page, live_url: str) -> None:
    sign_in(page, live_url, "instructor@demo.test")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    shown = page.get_by_label("Show")
    expect(shown).to_have_value("action")  # the default: only what an instructor acts on

    name = _learner_trips_a_guardrail(live_url)
    blocked = page.locator("li.feed-event[data-type='tutor.blocked']").filter(has_text=name).first
    expect(blocked).to_contain_text("Tutor blocked a message: an attempt to override the tutor's instructions")
    detail = blocked.inner_text()
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|[a-z]+:[a-z]", detail), detail  # no internal codes
    # Every time carries its date: "Mon 30 Nov, 05:40:00".
    expect(blocked.locator("time")).to_have_text(re.compile(r"\d{1,2} [A-Z][a-z]{2}"))
    expect(page.locator("li.feed-event[data-type='tutor.session_started']")).to_have_count(0)

    # Pause: new events wait, and the button counts them as they arrive.
    before = page.locator("li.feed-event").count()
    page.get_by_role("button", name="Pause").click()
    _learner_trips_a_guardrail(live_url)
    resume = page.get_by_role("button", name=re.compile(r"^Resume \([1-9]\d* new"))
    expect(resume).to_be_visible()
    shot(page, "42-feed-paused")
    expect(page.locator("li.feed-event")).to_have_count(before)
    resume.click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    assert page.locator("li.feed-event").count() > before
    shot(page, "43-feed-needs-action")

    shown.select_option("all")
    expect(page.locator("li.feed-event[data-type='tutor.session_started']").first).to_contain_text("guided questions")
    shot(page, "44-feed-everything")


def test_dispute_reason_and_grader_reach_the_reviewer(page: Page, live_url: str) -> None:
    _, submission_id = _disputed_quiz(live_url)
    sign_in(page, live_url, "instructor@demo.test")
    page.goto(f"{live_url}/teach/queue?reason=disagreement")
    row = page.locator(f"tr[data-submission='{submission_id}']")
    expect(row).to_contain_text("Learner disagrees")
    expect(row).to_contain_text(DISPUTE)
    expect(row).to_contain_text("by the answer key")
    shot(page, "45-queue-dispute-reason")
    assert_accessible(page, "review queue with a dispute")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name="The learner's reason for contesting")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text(DISPUTE)
    expect(page.locator(".grader")).to_have_text(re.compile(r"^Graded by the answer key"))
    expect(page.get_by_role("heading", name="Rubric")).to_have_count(0)  # an answer key uses no rubric
    expect(page.get_by_role("main")).not_to_contain_text("Graded by AI")
    shot(page, "46-grading-view-dispute")
    assert_accessible(page, "grading view of a disputed quiz")


def test_code_grading_view_shows_tests_in_a_scrollable_block(page: Page, live_url: str, settings: Settings) -> None:
    email = _new_learner(live_url)
    learner = _api(live_url, email)
    course = _course(learner)
    learner.post(f"/v1/courses/{course['id']}/enrollments")
    open_assessments_sync(settings, email)  # the task's prerequisites (a locked assessment refuses answers)
    spec = _code_spec()
    task = next(i for m in course["modules"] for i in m["items"] if i["kind"] == "assessment" and "bearer" in i["slug"])
    assessment = learner.get(f"/v1/items/{task['id']}/assessment").json()
    # Lower-casing the token: the one test with capitals in its token fails; a long line tests overflow.
    code = spec["reference_solution"].replace("return token", "return token.lower()")
    code += "\n\n# " + "a very long comment that would spill out of a card " * 6 + "\n"
    submission = learner.post(f"/v1/assessments/{assessment['id']}/submissions", json={"code": code}).json()
    graded = _wait_status(learner, submission["id"], "graded", "in_review")
    assert graded["grader"] == "unit_tests", graded
    if graded["status"] == "graded":
        learner.post(f"/v1/submissions/{submission['id']}/disagree", json={"reason": "Tokens are case-insensitive."})

    sign_in(page, live_url, "instructor@demo.test")
    page.goto(f"{live_url}/teach/review/submission/{submission['id']}")
    block = page.locator(".code-answer pre.code")
    expect(block).to_be_visible()
    expect(block.locator(".hljs-keyword").first).to_be_visible()  # highlighted
    sizes = block.evaluate(SIZES_JS)
    assert sizes["box"][0] >= sizes["card"][0], sizes
    assert sizes["box"][1] <= sizes["card"][1], sizes  # stays inside its card
    assert sizes["overflow"] == "auto", sizes
    assert sizes["scroll"], sizes  # the long line scrolls inside the block

    tests = page.locator("ul.test-results > li")
    failing = tests.filter(has_text="test_jwt_like_token_with_padding")
    expect(failing).to_have_attribute("data-passed", "false")
    expect(failing).to_contain_text("Expected")
    expect(failing).to_contain_text("Got")
    expect(failing).to_contain_text('assert parse_bearer_token(f"Bearer {token}") == token')
    passing = tests.filter(has_text="test_returns_the_token")
    expect(passing).to_have_attribute("data-passed", "true")
    expect(passing).to_contain_text('parse_bearer_token("Bearer abc123") == "abc123"')
    expect(page.get_by_role("heading", name="Rubric")).to_have_count(0)  # offline: the tests alone graded
    expect(page.locator(".grader")).to_have_text(re.compile(r"^Graded by unit tests$"))
    expect(page.locator(".grade-card")).not_to_contain_text("confidence, )")
    shot(page, "47-code-grading-view")
    assert_accessible(page, "grading view of a code task")


def test_corrections_download_with_the_token(page: Page, live_url: str) -> None:
    _, submission_id = _disputed_quiz(live_url)
    staff = _api(live_url, "instructor@demo.test")
    item = staff.get(f"/v1/review/submissions/{submission_id}").json()["item"]
    assert staff.post(f"/v1/review/items/{item['id']}/claim").status_code == 200
    decided = staff.post(
        f"/v1/review/items/{item['id']}/decision",
        json={"action": "override", "score": 4, "reason": "Question 2 accepts both answers"},
    )
    assert decided.status_code == 200, decided.text

    sign_in(page, live_url, "instructor@demo.test")
    nav_link(page, "Grading quality").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download corrections (JSONL)").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".jsonl")
    content = Path(download.path()).read_text(encoding="utf-8")
    assert submission_id in content
    assert "Question 2 accepts both answers" in content
    shot(page, "48-metrics-download")
