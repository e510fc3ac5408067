"""Spaced review in a real browser (issue 12 §7): the demo learner, right after seeding, sees "Reviews
due" on My learning, works through the session one question at a time with the keyboard (right and wrong
answers, feedback, progress "1 of 3"), and ends on the empty state with the next review's date."""

from __future__ import annotations

import re

import msgspec
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ROOT, shot, sign_in

pytestmark = pytest.mark.e2e
SPECS = [
    msgspec.yaml.decode((ROOT / "content/courses" / f"{slug}.yaml").read_bytes())
    for slug in ("backend-foundations", "scalable-systems")  # the courses of Leo's seeded passes
]
# By the prompt as the page shows it (inline Markdown rendered: no backticks).
QUESTIONS = {
    q["prompt"].replace("`", ""): q
    for spec in SPECS
    for m in spec["modules"]
    for i in m["items"]
    if i.get("assessment", {}).get("type") == "multiple_choice"
    for q in i["assessment"]["questions"]
}


def _answer_with_keyboard(page: Page, option: int) -> None:
    """Pick an option and check it without the mouse: Tab to the radio group, arrows, Enter."""
    first = page.get_by_role("radio").first
    first.focus()
    expect(first).to_be_focused()
    page.keyboard.press("Space")  # select the first option
    for _ in range(option):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio").nth(option)).to_be_checked()
    page.keyboard.press("Enter")  # submits the form: "Check answer"


def test_a_review_session_for_the_demo_learner(page: Page, web_url: str) -> None:
    sign_in(page, web_url)  # learner@demo.test: seeded with two quizzes passed days ago
    card = page.get_by_test_id("reviews-due")
    expect(card.get_by_test_id("reviews-due-count")).to_have_text("3")
    shot(page, "spaced-01-my-learning-reviews-due")
    card.get_by_role("link", name="Start review").click()

    expect(page.get_by_role("heading", level=1, name="Reviews")).to_be_visible()
    for number in (1, 2, 3):
        expect(page.get_by_test_id("review-progress")).to_contain_text(f"{number} of 3")
        prompt = page.locator("legend").inner_text().strip()
        key = QUESTIONS[prompt]
        right = number != 2  # the second one wrong, to see the feedback and the answer highlighted
        choice = key["answer"] if right else (key["answer"] + 1) % len(key["options"])
        if number == 1:
            expect(page.get_by_role("button", name="Check answer")).to_be_disabled()
            assert_accessible(page, "review question")
            shot(page, "spaced-02-question")
        _answer_with_keyboard(page, choice)
        feedback = page.get_by_test_id("review-feedback")
        expect(feedback).to_have_attribute("data-correct", "true" if right else "false")
        expect(feedback).to_contain_text("Correct" if right else "Not quite")
        expect(feedback.get_by_test_id("next-due")).to_contain_text("Next review of this topic")
        next_button = feedback.get_by_role("button", name="Finish" if number == 3 else "Next question")
        expect(next_button).to_be_focused()  # keyboard users continue with Enter
        if number == 2:
            assert_accessible(page, "review feedback")
            shot(page, "spaced-03-feedback-wrong")
        page.keyboard.press("Enter")

    expect(page.get_by_test_id("session-done")).to_contain_text("You reviewed 3 questions")
    shot(page, "spaced-04-session-complete")
    page.get_by_role("link", name="Back to My learning").click()
    expect(page.get_by_test_id("reviews-due")).to_contain_text(re.compile(r"Nothing to review — next review on \w+"))

    # The one answered wrong comes back ten minutes later; until then the session page is empty.
    page.goto(f"{web_url}/reviews")
    expect(page.get_by_role("heading", name="Nothing to review")).to_be_visible()
    expect(page.get_by_test_id("next-review")).to_contain_text("Next review on")
    assert_accessible(page, "reviews empty")
    shot(page, "spaced-05-nothing-to-review")
