"""The learner's side of grading (issue 10 §2 and §5): the last submission after a reload, per-question
marks, the review deadline and the live decision, plain grader names, offline feedback that states only
what it saw, the practice run of the visible tests, and "My learning" with its resume point."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
from saq import Worker

from app.content.schema import Rubric
from app.domain.grading.graders import OfflineRubricGrader, grade_short_answer
from tests.support.grading import GRADING_ENV, Client, app_client, assessment, course_by_slug, new_learner, wait_for
from tests.support.stack import auth_headers, make_settings

ROOT = Path(__file__).resolve().parents[3]
COURSE = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
ANSWER = "Add a foreign key on order_lines.order_id, check quantity > 0 and index orders by customer."


def assessment_spec(slug: str) -> dict[str, Any]:
    item = next(i for m in COURSE["modules"] for i in m["items"] if i["slug"] == slug)
    spec: dict[str, Any] = item["assessment"]
    return spec


CODE_SLUG = next(
    i["slug"] for m in COURSE["modules"] for i in m["items"] if i.get("assessment", {}).get("type") == "code"
)


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a finished server-sent event stream into (event, data) pairs; comments are dropped."""
    out = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


async def test_quiz_marks_each_question_and_keeps_the_answer(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    right = [q["answer"] for q in assessment_spec("http-fundamentals-quiz")["questions"]]
    choices = [(right[0] + 1) % 2, *right[1:]]  # the first one wrong
    accepted = await gclient.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": choices}
    )
    graded = await wait_for(gclient, headers, accepted.json()["id"], "graded")
    marks = graded["questions"]
    assert [m["question"] for m in marks] == list(range(1, len(right) + 1))
    assert [m["correct"] for m in marks] == [False] + [True] * (len(right) - 1)
    assert marks[0]["points"] == 0
    assert marks[0]["explanation"]
    assert all("answer" not in m for m in marks)  # no mark names the right option
    assert graded["grader_label"] == "the answer key"
    # After a reload the page asks for the latest submission: it carries what was chosen.
    mine = (await gclient.get(f"/v1/assessments/{quiz['id']}/submissions", headers=headers)).json()
    assert mine[0]["id"] == accepted.json()["id"]
    assert mine[0]["answer"] == {"choices": choices}
    assert mine[0]["questions"] == marks


async def test_code_answer_is_returned_for_the_editor(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    task = await assessment(gclient, headers, CODE_SLUG)
    code = assessment_spec(CODE_SLUG)["reference_solution"]
    accepted = await gclient.post(f"/v1/assessments/{task['id']}/submissions", headers=headers, json={"code": code})
    graded = await wait_for(gclient, headers, accepted.json()["id"], "graded")
    assert graded["grader_label"] == "the automatic tests"
    mine = (await gclient.get(f"/v1/assessments/{task['id']}/submissions", headers=headers)).json()
    assert mine[0]["answer"] == {"code": code.strip()}


async def test_visible_tests_run_without_a_submission(gclient: Client) -> None:
    headers = await new_learner(gclient)
    task = await assessment(gclient, headers, CODE_SLUG)
    assert "def test_" in task["spec"]["visible_tests"]  # the learner may read them
    assert "hidden_tests" not in task["spec"]
    runs = f"/v1/assessments/{task['id']}/test-runs"
    good = await gclient.post(runs, headers=headers, json={"code": assessment_spec(CODE_SLUG)["reference_solution"]})
    assert good.status_code == 200, good.text
    assert good.json()["status"] == "ok"
    assert good.json()["passed"] == good.json()["total"] > 0
    # A wrong answer shows what each failing test compared, like check50.
    wrong = "def parse_bearer_token(header):\n    return header\n"
    failed = (await gclient.post(runs, headers=headers, json={"code": wrong})).json()
    assert failed["passed"] < failed["total"]
    first = next(t for t in failed["tests"] if t["name"] == "test_returns_the_token")
    assert first["passed"] is False
    assert first["expected"] == "'abc123'", first
    assert first["actual"] == "'Bearer abc123'", first
    # Only the visible tests ran, and nothing was submitted.
    names = {t["name"] for t in failed["tests"]}
    assert names <= {"test_returns_the_token", "test_missing_header_is_refused", "test_other_schemes_are_refused"}
    assert (await gclient.get(f"/v1/assessments/{task['id']}/submissions", headers=headers)).json() == []

    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    not_code = await gclient.post(f"/v1/assessments/{quiz['id']}/test-runs", headers=headers, json={"code": "x = 1"})
    assert not_code.status_code == 409
    assert not_code.json()["code"] == "not_code"
    empty = await gclient.post(runs, headers=headers, json={"code": ""})
    assert empty.status_code in (400, 422)
    stranger = await new_learner(gclient, enrol=None)
    refused = await gclient.post(runs, headers=stranger, json={"code": wrong})
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_enrolled"


async def test_visible_tests_fail_closed_without_the_sandbox(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, seeded: Any
) -> None:
    settings = make_settings(
        database_url,
        redis_url,
        redis_prefix + "testrun-nosandbox:",
        tmp_data_dir,
        LYCEUM_SANDBOX_BWRAP="/nonexistent/bwrap",
        **GRADING_ENV,
    )
    async for client in app_client(settings):
        headers = await new_learner(client)
        task = await assessment(client, headers, CODE_SLUG)
        answer = await client.post(
            f"/v1/assessments/{task['id']}/test-runs", headers=headers, json={"code": "def f():\n    pass\n"}
        )
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "sandbox_unavailable"
        assert "bubblewrap" in answer.json()["detail"]


async def test_review_deadline_live_decision_and_my_learning(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    review = await assessment(gclient, headers, "schema-review")
    accepted = await gclient.post(f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": ANSWER})
    submission_id = accepted.json()["id"]
    waiting = await wait_for(gclient, headers, submission_id, "in_review")
    assert waiting["review_due_at"] is not None
    assert waiting["answer"] == {"text": ANSWER}

    overview = (await gclient.get("/v1/learning", headers=headers)).json()
    pending = [p for p in overview["pending_reviews"] if p["submission_id"] == submission_id]
    assert pending
    assert pending[0]["review_due_at"] == waiting["review_due_at"]
    assert pending[0]["item_title"]

    # The learner's page follows its submission; a reviewer decides meanwhile; the stream ends graded.
    stream = asyncio.ensure_future(gclient.get(f"/v1/submissions/{submission_id}/events", headers=headers))
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    detail = (await gclient.get(f"/v1/review/submissions/{submission_id}", headers=staff)).json()
    item_id = detail["item"]["id"]
    assert (await gclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)).status_code == 200
    decided = await gclient.post(f"/v1/review/items/{item_id}/decision", headers=staff, json={"action": "accept"})
    assert decided.status_code == 200, decided.text
    body = await asyncio.wait_for(stream, timeout=60)  # bounds only a broken stream
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/event-stream")
    seen = _events(body.text)
    assert seen
    assert all(kind == "submission" for kind, _ in seen)
    assert seen[-1][1]["status"] == "graded"
    assert "offline-keywords" not in seen[-1][1]["feedback"]
    assert seen[-1][1]["grader_label"] == "your instructor" or "key-term" in seen[-1][1]["grader_label"]

    overview = (await gclient.get("/v1/learning", headers=headers)).json()
    assert not [p for p in overview["pending_reviews"] if p["submission_id"] == submission_id]
    assert overview["recent_grades"][0]["submission_id"] == submission_id

    # Someone else's submission cannot be followed.
    other = await new_learner(gclient)
    assert (await gclient.get(f"/v1/submissions/{submission_id}/events", headers=other)).status_code == 403


async def test_continue_resumes_where_the_learner_was(gclient: Client) -> None:
    headers = await new_learner(gclient, unlock=False)  # a fresh stream: nothing done yet
    course = await course_by_slug(gclient, headers, "backend-foundations")
    items = [i for m in course["modules"] for i in m["items"]]
    overview = (await gclient.get("/v1/learning", headers=headers)).json()
    mine = next(c for c in overview["courses"] if c["course_id"] == course["id"])
    assert mine["resume_item_id"] == mine["next_item_id"] == items[0]["id"]  # nothing opened yet: the first

    opened = items[2]
    put = await gclient.put(f"/v1/courses/{course['id']}/position", headers=headers, json={"item_id": opened["id"]})
    assert put.status_code == 204, put.text
    mine = next(
        c
        for c in (await gclient.get("/v1/learning", headers=headers)).json()["courses"]
        if c["course_id"] == course["id"]
    )
    assert mine["resume_item_id"] == opened["id"]
    assert mine["resume_item_title"] == opened["title"]
    assert mine["next_item_title"] == items[0]["title"]

    # Bad input is a 4xx problem, never a 5xx; someone not enrolled cannot record a position.
    other_course = next(
        c["id"] for c in (await gclient.get("/v1/courses", headers=headers)).json()["items"] if c["id"] != course["id"]
    )
    wrong_course = await gclient.put(
        f"/v1/courses/{other_course}/position", headers=headers, json={"item_id": opened["id"]}
    )
    assert wrong_course.status_code == 404
    assert (
        await gclient.put(f"/v1/courses/{course['id']}/position", headers=headers, json={"item_id": "x"})
    ).status_code in (400, 422)
    stranger = await new_learner(gclient, enrol=None)
    refused = await gclient.put(
        f"/v1/courses/{course['id']}/position", headers=stranger, json={"item_id": opened["id"]}
    )
    assert refused.status_code == 409


async def test_offline_feedback_states_only_what_it_saw() -> None:
    """The keyword grader no longer quotes a level's description ("listed without reasons") as a verdict:
    it says which of the rubric's terms appear, so it cannot contradict an answer that justified every point."""
    rubric = msgspec.convert(assessment_spec("schema-review")["rubric"], Rubric)
    words = " ".join(c.description + " " + max(c.levels, key=lambda lv: lv.points).description for c in rubric.criteria)
    result = await grade_short_answer(OfflineRubricGrader(), rubric, "prompt", words)
    assert "offline-keywords" not in result.feedback
    for criterion in rubric.criteria:
        for level in criterion.levels:
            assert level.description not in result.feedback
    assert all(c.rationale.startswith("All ") for c in result.criteria), result.feedback
    empty = await grade_short_answer(OfflineRubricGrader(), rubric, "prompt", "I am not sure.")
    assert all(c.rationale.startswith("None of the key terms") for c in empty.criteria), empty.feedback
    assert "key terms" in empty.feedback
    assert "person" in empty.feedback
