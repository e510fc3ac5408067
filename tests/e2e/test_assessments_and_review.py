"""Assessments in the browser: a learner passes a quiz; an instructor sees an escalation live and overrides it."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.config import Settings
from tests.e2e.conftest import nav_link, shot, sign_in
from tests.e2e.test_learner_journey import COURSE, _new_learner
from tests.support.progress import open_assessments_sync
from tests.support.stack import bearer_for

pytestmark = pytest.mark.e2e
ANSWER = "Add a foreign key on order_lines.order_id and index orders by customer_email and created_at."


def _api(base: str, email: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers=bearer_for(base, email), timeout=30)


def _course(api: httpx.Client) -> dict[str, Any]:
    course = next(c for c in api.get("/v1/courses").json()["items"] if c["title"] == COURSE)
    detail: dict[str, Any] = api.get(f"/v1/courses/{course['id']}").json()
    detail["by_slug"] = {i["slug"]: i for m in detail["modules"] for i in m["items"]}
    return detail


def test_learner_passes_a_quiz_in_the_browser(page: Page, live_url: str) -> None:
    email = _new_learner(live_url)
    api = _api(live_url, email)
    course = _course(api)
    api.post(f"/v1/courses/{course['id']}/enrollments")
    # The exercise also opens the quiz's competency gate (http-apis >= 0.4).
    for slug in ("http-request-lifecycle", "designing-resources", "bookmarks-api-design"):
        api.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")
    quiz = course["by_slug"]["http-fundamentals-quiz"]
    # Questions render their Markdown, so `code` shows without its backticks.
    answers = {q["prompt"].replace("`", ""): q["options"][q["answer"]] for q in _quiz_key()}

    sign_in(page, live_url, email)
    page.goto(f"{live_url}/courses/{course['id']}/items/{quiz['id']}")
    questions = page.locator("fieldset.question")
    expect(questions.first).to_be_visible()
    for index in range(questions.count()):
        question = questions.nth(index)
        prompt = re.sub(r"^\d+\.\s*", "", question.locator("legend").inner_text())
        question.get_by_label(answers[prompt], exact=True).check()
    shot(page, "21-quiz")
    page.get_by_role("button", name="Submit").click()
    result = page.get_by_test_id("submission-result")
    expect(result).to_have_attribute("data-status", "graded", timeout=60_000)
    expect(result).to_contain_text("Passed")
    expect(page.get_by_role("navigation", name="Course pathway").locator(f"a[href$='{quiz['id']}']")).to_have_attribute(
        "data-state", "done"
    )
    shot(page, "22-quiz-passed")


def _quiz_key() -> list[dict[str, Any]]:
    import msgspec

    from tests.e2e.conftest import ROOT

    course = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
    item = next(i for m in course["modules"] for i in m["items"] if i["slug"] == "http-fundamentals-quiz")
    questions: list[dict[str, Any]] = item["assessment"]["questions"]
    return questions


def test_escalation_reaches_the_feed_and_an_override_is_recorded(page: Page, live_url: str, settings: Settings) -> None:
    sign_in(page, live_url, "instructor@demo.test")
    nav_link(page, "Live feed").click()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()

    email = _new_learner(live_url)
    learner = _api(live_url, email)
    course = _course(learner)
    learner.post(f"/v1/courses/{course['id']}/enrollments")
    open_assessments_sync(settings, email)  # schema-review's prerequisites (a locked assessment refuses answers)
    review_item = course["by_slug"]["schema-review"]
    assessment = learner.get(f"/v1/items/{review_item['id']}/assessment").json()
    started = time.monotonic()
    submission = learner.post(f"/v1/assessments/{assessment['id']}/submissions", json={"text": ANSWER}).json()
    # This submission's event: other tests' escalations may be on the same org's feed.
    escalated = page.locator(f"li.feed-event[data-type='submission.escalated'][data-submission='{submission['id']}']")
    expect(escalated).to_contain_text("Submission needs a human", timeout=60_000)
    print(f"escalation on the feed {time.monotonic() - started:.2f} s after submitting")
    shot(page, "23-feed-escalation")

    escalated.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Learner's answer")).to_be_visible()
    expect(page.get_by_text(ANSWER)).to_be_visible()
    expect(page.get_by_role("heading", name="Rubric")).to_be_visible()
    page.get_by_role("button", name="Claim to review").click()
    page.get_by_label(re.compile("^Score")).fill("6")
    page.get_by_label("Feedback for the learner").fill("Right about the foreign key; say why the index helps.")
    page.get_by_label(re.compile("^Reason")).fill("The AI missed the index reasoning")
    shot(page, "24-grading-view")
    page.get_by_role("button", name="Save override").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    shot(page, "25-review-queue")

    graded = learner.get(f"/v1/submissions/{submission['id']}").json()
    assert graded["status"] == "graded"
    assert graded["score"] == 6
    assert graded["graded_by"] == "human"
    admin = _api(live_url, "admin@demo.test")
    audit = admin.get("/v1/audit-log", params={"limit": 50}).json()["items"]
    assert any(a["action"] == "review.override" and a["entity_id"] == submission["id"] for a in audit)

    nav_link(page, "Grading quality").click()
    expect(page.get_by_role("heading", name="Grading quality")).to_be_visible()
    expect(page.locator("table.queue").first).to_contain_text("Review a schema")
    shot(page, "26-grading-metrics")
