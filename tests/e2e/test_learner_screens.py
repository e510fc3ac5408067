"""The learner's screens in a real browser (issue 10 §2 and §5): the last submission survives a reload,
quizzes render Markdown and mark each question, the code editor and "Run the visible tests", the review
deadline and the reviewer's decision arriving live, "My learning", and the labelled pathway map."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, ROOT, shot, sign_in
from tests.e2e.test_assessments_and_review import _api, _course, _quiz_key
from tests.e2e.test_learner_journey import _new_learner

pytestmark = pytest.mark.e2e
SPEC = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
ITEMS = {i["slug"]: i for m in SPEC["modules"] for i in m["items"]}
ANSWER = "Add a foreign key on order_lines.order_id, check quantity > 0 and index orders by customer."
WRONG_PARSER = "def parse_bearer_token(header):\n    return header\n"


def _wait(api: httpx.Client, submission_id: str, *statuses: str, deadline_s: float = 60) -> dict[str, Any]:
    """Poll until the submission reaches a status; the deadline only bounds a broken run."""
    deadline = time.monotonic() + deadline_s
    while True:
        body: dict[str, Any] = api.get(f"/v1/submissions/{submission_id}").json()
        if body["status"] in statuses or time.monotonic() > deadline:
            assert body["status"] in statuses, body
            return body
        time.sleep(0.2)


def _assessment_id(api: httpx.Client, course: dict[str, Any], slug: str) -> str:
    return str(api.get(f"/v1/items/{course['by_slug'][slug]['id']}/assessment").json()["id"])


def _complete(api: httpx.Client, course: dict[str, Any], *slugs: str) -> None:
    for slug in slugs:
        done = api.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")
        assert done.status_code in (200, 201), done.text


def _pass_quiz(api: httpx.Client, course: dict[str, Any]) -> None:
    choices = [q["answer"] for q in _quiz_key()]
    quiz = _assessment_id(api, course, "http-fundamentals-quiz")
    submitted = api.post(f"/v1/assessments/{quiz}/submissions", json={"choices": choices}).json()
    _wait(api, submitted["id"], "graded")


def _decide(staff: httpx.Client, submission_id: str) -> None:
    """A reviewer gives full marks."""
    detail = staff.get(f"/v1/review/submissions/{submission_id}").json()
    item_id = detail["item"]["id"]
    assert staff.post(f"/v1/review/items/{item_id}/claim").status_code == 200
    score = detail["item"]["max_score"]
    body = {"action": "override", "score": score, "feedback": "Well argued.", "reason": "Keyword grader too harsh"}
    decided = staff.post(f"/v1/review/items/{item_id}/decision", json=body)
    assert decided.status_code == 200, decided.text


def _learner_at(base: str, stage: str) -> tuple[str, httpx.Client, dict[str, Any]]:
    """A new learner enrolled in Backend Foundations with everything before ``stage`` done."""
    email = _new_learner(base)
    api = _api(base, email)
    course = _course(api)
    api.post(f"/v1/courses/{course['id']}/enrollments")
    # The exercise also opens the quiz's competency gate (http-apis >= 0.4).
    _complete(api, course, "http-request-lifecycle", "designing-resources", "bookmarks-api-design")
    if stage in ("schema-review", "bearer-token-parser"):
        _pass_quiz(api, course)
        _complete(api, course, "relational-modelling", "indexes-and-queries", "schema-for-a-library")
    if stage == "bearer-token-parser":
        review = _assessment_id(api, course, "schema-review")
        submitted = api.post(f"/v1/assessments/{review}/submissions", json={"text": ANSWER}).json()
        _wait(api, submitted["id"], "in_review", "graded")
        if api.get(f"/v1/submissions/{submitted['id']}").json()["status"] == "in_review":
            _decide(_api(base, "instructor@demo.test"), submitted["id"])
        _complete(api, course, "passwords-and-sessions", "testing-backend-services")
    return email, api, course


def test_quiz_renders_markdown_marks_each_question_and_survives_a_reload(page: Page, live_url: str) -> None:
    email, _api_client, course = _learner_at(live_url, "http-fundamentals-quiz")
    key = _quiz_key()
    sign_in(page, live_url, email)
    page.goto(f"{live_url}/courses/{course['id']}/items/{course['by_slug']['http-fundamentals-quiz']['id']}")
    questions = page.locator("fieldset.question")
    expect(questions.first).to_be_visible()
    # Backticks render as code, not literally.
    with_code = next(n for n, q in enumerate(key) if "`" in q["prompt"])
    expect(questions.nth(with_code).locator("legend code").first).to_be_visible()
    assert "`" not in questions.nth(with_code).locator("legend").inner_text()
    for n, question in enumerate(key):
        choice = question["answer"] if n else (question["answer"] + 1) % len(question["options"])  # first one wrong
        questions.nth(n).locator("input[type=radio]").nth(choice).check()
    page.get_by_role("button", name="Submit").click()
    result = page.get_by_test_id("submission-result")
    expect(result).to_have_attribute("data-status", "graded")
    marks = page.get_by_test_id("question-mark")
    expect(marks).to_have_count(len(key))
    expect(questions.nth(0).get_by_test_id("question-mark")).to_have_attribute("data-correct", "false")
    expect(questions.nth(0).get_by_test_id("question-mark")).to_contain_text(key[0]["explanation"][:30])
    expect(questions.nth(1).get_by_test_id("question-mark")).to_have_attribute("data-correct", "true")
    shot(page, "40-quiz-marked-per-question")

    # A reload shows the last submission: its choices, its result and its marks.
    page.reload()
    expect(page.get_by_test_id("submission-result")).to_have_attribute("data-status", "graded")
    expect(questions.nth(1).locator("input[type=radio]").nth(key[1]["answer"])).to_be_checked()
    expect(page.get_by_test_id("question-mark")).to_have_count(len(key))
    shot(page, "41-quiz-after-reload")


def test_code_editor_runs_the_visible_tests_and_keeps_the_code(page: Page, live_url: str) -> None:
    email, api, course = _learner_at(live_url, "bearer-token-parser")
    sign_in(page, live_url, email)
    page.goto(f"{live_url}/courses/{course['id']}/items/{course['by_slug']['bearer-token-parser']['id']}")
    editor = page.locator(".cm-content[data-testid='code-editor']")
    expect(editor).to_be_visible()  # CodeMirror loaded on demand
    expect(page.locator(".cm-editor .cm-line").first).to_contain_text("def parse_bearer_token")
    expect(page.locator(".cm-editor .cm-line span").first).to_be_visible()  # the Python is highlighted
    # Tab indents inside the editor instead of leaving it.
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("x = 1\n")
    page.keyboard.press("Tab")
    page.keyboard.type("y = 2")
    expect(editor).to_be_focused()
    expect(page.locator(".cm-editor .cm-line").nth(0)).to_have_text("x = 1")
    expect(page.locator(".cm-editor .cm-line").nth(1)).to_have_text("    y = 2")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(WRONG_PARSER)
    expect(page.locator(".cm-editor .cm-line").nth(1)).to_have_text("    return header")

    page.get_by_role("button", name="Run the visible tests").click()
    run = page.get_by_test_id("test-run")
    expect(run).to_contain_text("visible tests passed")
    failing = page.get_by_test_id("test-outcome").filter(has_text="test_returns_the_token")
    expect(failing).to_have_attribute("data-passed", "false")
    expect(failing).to_contain_text("Expected")
    expect(failing).to_contain_text("'abc123'")
    expect(failing).to_contain_text("Actual")
    expect(failing).to_contain_text("'Bearer abc123'")
    shot(page, "42-visible-tests-failing")
    task = _assessment_id(api, course, "bearer-token-parser")
    assert api.get(f"/v1/assessments/{task}/submissions").json() == []  # a practice run submits nothing

    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_test_id("submission-result")).to_have_attribute("data-status", "graded")
    expect(page.get_by_test_id("submission-result")).to_contain_text("marked by the automatic tests")
    page.reload()
    expect(page.locator(".cm-content[data-testid='code-editor']")).to_contain_text("return header")
    expect(page.get_by_test_id("submission-result")).to_have_attribute("data-status", "graded")
    shot(page, "43-code-after-reload")

    # Full marks: nothing to disagree with.
    page.locator(".cm-content[data-testid='code-editor']").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(ITEMS["bearer-token-parser"]["assessment"]["reference_solution"])
    page.get_by_role("button", name="Submit again").click()
    expect(page.get_by_test_id("submission-result")).to_contain_text("Passed")
    expect(page.get_by_role("button", name="I disagree with this grade")).to_have_count(0)
    shot(page, "44-code-full-marks")


def test_review_deadline_and_the_decision_arrive_live(page: Page, live_url: str) -> None:
    email, _api_client, course = _learner_at(live_url, "schema-review")
    sign_in(page, live_url, email)
    page.goto(f"{live_url}/courses/{course['id']}/items/{course['by_slug']['schema-review']['id']}")
    page.get_by_label("Your answer").fill(ANSWER)
    page.get_by_role("button", name="Submit").click()
    result = page.get_by_test_id("submission-result")
    expect(result).to_have_attribute("data-status", "in_review")
    expect(result).to_contain_text("A person is reviewing this grade")
    expect(page.get_by_test_id("review-due")).to_be_visible()
    expect(page.get_by_role("button", name="Submit again")).to_be_disabled()
    shot(page, "45-in-review-with-deadline")

    # The answer is still there after a reload.
    page.reload()
    expect(page.get_by_label("Your answer")).to_have_value(ANSWER)
    expect(page.get_by_test_id("submission-result")).to_have_attribute("data-status", "in_review")

    # "My learning" lists it as waiting for a person.
    page.goto(f"{live_url}/learning")
    expect(page.get_by_test_id("pending-reviews")).to_contain_text("Review a schema")
    shot(page, "46-my-learning-pending-review")
    page.go_back()
    result = page.get_by_test_id("submission-result")
    expect(result).to_have_attribute("data-status", "in_review")

    learner = _api(live_url, email)
    submission = learner.get(f"/v1/assessments/{_assessment_id(learner, course, 'schema-review')}/submissions").json()[
        0
    ]
    _decide(_api(live_url, "instructor@demo.test"), submission["id"])
    # No reload: the page was listening for its own submission's decision.
    expect(result).to_have_attribute("data-status", "graded")
    expect(result).to_contain_text("Passed")
    expect(result).to_contain_text("marked by your instructor")
    expect(page.get_by_role("button", name="Submit again")).to_be_enabled()
    assert "offline-keywords" not in page.content()
    shot(page, "47-decision-arrived-live")


def test_my_learning_continue_resumes_and_lists_grades(page: Page, live_url: str) -> None:
    email, _api_client, course = _learner_at(live_url, "schema-review")
    sign_in(page, live_url, email)
    target = course["by_slug"]["indexes-and-queries"]  # done, but the learner opens it again...
    lesson = course["by_slug"]["passwords-and-sessions"]  # ...and a locked one shows where to go
    page.goto(f"{live_url}/courses/{course['id']}/items/{target['id']}")
    page.get_by_role("heading", level=1).wait_for()
    # The last opened item not done yet: the schema review (every lesson and exercise before it is done,
    # the API-design exercise included, since it opens the quiz's competency gate).
    review = course["by_slug"]["schema-review"]
    page.goto(f"{live_url}/courses/{course['id']}/items/{review['id']}")
    expect(page.get_by_role("heading", level=1, name=review["title"])).to_be_visible()
    page.goto(f"{live_url}/learning")
    card = page.get_by_test_id("course-card").filter(has_text="Backend Foundations")
    expect(card).to_contain_text(f"You were on: {review['title']}")
    expect(page.get_by_test_id("recent-grades")).to_contain_text("HTTP and REST fundamentals")
    shot(page, "48-my-learning")
    card.get_by_test_id("continue").click()
    expect(page).to_have_url(re.compile(review["id"]))

    page.goto(f"{live_url}/courses/{course['id']}/items/{lesson['id']}")
    locked = page.get_by_test_id("locked-item")
    expect(locked).to_contain_text("This item is locked")
    expect(page.get_by_test_id("can-do-next")).to_contain_text("Review a schema")
    shot(page, "49-locked-points-at-what-you-can-do")


def test_pathway_map_has_labels_and_the_list_scrolls_to_the_current_item(page: Page, live_url: str) -> None:
    email, _api_client, course = _learner_at(live_url, "http-fundamentals-quiz")
    page.set_viewport_size({"width": 1366, "height": 560})
    sign_in(page, live_url, email)
    last = course["modules"][-1]["items"][-1]
    page.goto(f"{live_url}/courses/{course['id']}/items/{last['id']}")
    nav = page.get_by_role("navigation", name="Course pathway")
    labels = nav.locator("svg.pathway-graph text.node-label")
    expect(labels.first).to_be_visible()
    assert labels.count() == sum(len(m["items"]) for m in course["modules"])
    assert any("HTTP" in t for t in labels.all_text_contents())
    current = nav.locator(".pathway-item.current")
    expect(current).to_be_visible()
    # The side list scrolls (by itself, not the page) so that the current item is in view.
    page.wait_for_function(
        """() => { const nav = document.querySelector('nav.pathway');
                   const cur = nav && nav.querySelector('.pathway-item.current');
                   if (!cur) return false;
                   const a = nav.getBoundingClientRect(), b = cur.getBoundingClientRect();
                   return nav.scrollTop > 0 && b.top >= a.top && b.bottom <= a.bottom; }"""
    )
    shot(page, "50-side-list-scrolled-to-current")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nav.locator(".pathway-graph-scroll").scroll_into_view_if_needed()
    nav.locator(".pathway-graph-scroll").screenshot(path=str(ARTIFACTS / "51-pathway-map-labels.png"))
