"""Submissions: validation, idempotency, exact and rubric grading on the worker, routing, dead letters."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from saq import Worker

from app.config import Settings
from app.lib.events import EventBus
from app.lib.redis import create_redis
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.grading import (
    COURSE,
    GRADING_ENV,
    Client,
    app_client,
    assessment,
    assessment_spec,
    in_process_worker,
    new_learner,
    rubric_tool_input,
    top_rubric_points,
    wait_for,
)
from tests.support.stack import auth_headers, make_settings


def _right_choices() -> list[int]:
    return [q["answer"] for q in assessment_spec("http-fundamentals-quiz")["questions"]]


async def _submit(client: Client, headers: dict[str, str], assessment_id: str, body: dict[str, Any]) -> Any:
    return await client.post(f"/v1/assessments/{assessment_id}/submissions", headers=headers, json=body)


async def test_learner_view_hides_answers(gclient: Client) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    assert quiz["kind"] == "multiple_choice"
    assert all("answer" not in q and "explanation" not in q for q in quiz["spec"]["questions"])
    review = await assessment(gclient, headers, "schema-review")
    assert "exemplars" not in review["spec"]["rubric"]


async def test_multiple_choice_is_graded_exactly_and_completes_the_item(gclient: Client) -> None:
    """Graded in the submitting request (no worker here): the response already carries the grade."""
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    accepted = await _submit(gclient, headers, quiz["id"], {"choices": _right_choices()})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "graded"
    graded = (await gclient.get(f"/v1/submissions/{accepted.json()['id']}", headers=headers)).json()
    assert accepted.json()["submission"] == graded
    assert graded["score"] == graded["max_score"]
    assert graded["passed"] is True
    assert graded["graded_by"] == "auto"
    progress = (await gclient.get(f"/v1/courses/{quiz['course_id']}/progress", headers=headers)).json()
    assert {
        "item_id": quiz["item_id"],
        "state": "done",
        "missing_prerequisites": [],
        "missing_competencies": [],
    } in progress["items"]


async def test_wrong_answers_fail_with_explanations(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    wrong = [(answer + 1) % 2 for answer in _right_choices()]
    accepted = await _submit(gclient, headers, quiz["id"], {"choices": wrong})
    graded = await wait_for(gclient, headers, accepted.json()["id"], "graded")
    assert graded["passed"] is False
    assert "Question 1" in graded["feedback"]


async def test_idempotency_key_submits_once(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    keyed = {**headers, "Idempotency-Key": f"quiz-{uuid.uuid4()}"}
    first = await _submit(gclient, keyed, quiz["id"], {"choices": _right_choices()})
    second = await _submit(gclient, keyed, quiz["id"], {"choices": _right_choices()})
    assert first.json()["id"] == second.json()["id"]
    mine = (await gclient.get(f"/v1/assessments/{quiz['id']}/submissions", headers=headers)).json()
    assert len(mine) == 1


async def test_bad_submissions_are_refused_clearly(gclient: Client) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    review = await assessment(gclient, headers, "schema-review")
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (quiz["id"], {"text": "B"}, 422, "#/choices"),
        (quiz["id"], {"choices": [0]}, 422, "#/choices"),
        (quiz["id"], {"choices": [9] * len(_right_choices())}, 422, "#/choices/0"),
        (review["id"], {"text": "   "}, 422, "#/text"),
        (review["id"], {"text": "x" * 5000}, 422, "#/text"),
        (review["id"], {"text": "fine", "code": "print()"}, 422, "#/text"),
    ]
    for assessment_id, body, status, pointer in cases:
        answer = await _submit(gclient, headers, assessment_id, body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert any(e.get("pointer") == pointer for e in answer.json()["errors"]), answer.json()
    assert (await _submit(gclient, headers, quiz["id"], {"choices": "abc"})).status_code in (400, 422)
    assert (await _submit(gclient, headers, str(uuid.uuid4()), {"choices": [0]})).status_code == 404
    acme = await auth_headers(gclient, "admin@acme.test", "acme")
    acme_course = (await gclient.get("/v1/courses", headers=acme)).json()["items"][0]["id"]
    acme_detail = (await gclient.get(f"/v1/courses/{acme_course}", headers=acme)).json()
    acme_item = next(i for m in acme_detail["modules"] for i in m["items"] if i["kind"] == "assessment")
    acme_quiz = (await gclient.get(f"/v1/items/{acme_item['id']}/assessment", headers=acme)).json()
    assert (await _submit(gclient, headers, acme_quiz["id"], {"choices": [0]})).status_code == 404
    stranger = await new_learner(gclient, enrol=None)
    not_enrolled = await _submit(gclient, stranger, quiz["id"], {"choices": _right_choices()})
    assert not_enrolled.status_code == 409
    assert not_enrolled.json()["code"] == "not_enrolled"


async def test_offline_short_answer_goes_to_review_and_the_feed(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    headers = await new_learner(gclient)
    review = await assessment(gclient, headers, "schema-review")
    text = "Add a foreign key on order_lines.order_id, not null on status, and an index on customer and created_at."
    accepted = await _submit(gclient, headers, review["id"], {"text": text})
    waiting = await wait_for(gclient, headers, accepted.json()["id"], "in_review")
    assert waiting["in_review"] is True
    assert waiting["score"] is None  # provisional grades stay hidden from the learner
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    queue = (await gclient.get("/v1/review/queue", headers=staff, params={"reason": "low_confidence"})).json()
    mine = next(i for i in queue["items"] if i["submission_id"] == accepted.json()["id"])
    assert mine["ai_confidence"] <= 0.6
    redis = create_redis(grading_settings.redis_url)
    bus = EventBus(redis, grading_settings.redis_key_prefix)
    me = (await gclient.get("/v1/me", headers=headers)).json()
    events = await bus.replay(uuid.UUID(me["org_id"]), None, 200)
    assert any(e.type == "submission.escalated" and e.data["submission_id"] == accepted.json()["id"] for e in events), (
        events
    )
    await bus.aclose()
    await redis.aclose()


async def test_disagreeing_sends_a_grade_to_review(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    accepted = await _submit(gclient, headers, quiz["id"], {"choices": _right_choices()})
    await wait_for(gclient, headers, accepted.json()["id"], "graded")
    path = f"/v1/submissions/{accepted.json()['id']}/disagree"
    disputed = await gclient.post(path, headers=headers, json={"reason": "Question 3 has two right answers"})
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["status"] == "in_review"
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    queue = (await gclient.get("/v1/review/queue", headers=staff, params={"reason": "disagreement"})).json()
    assert any(i["submission_id"] == accepted.json()["id"] for i in queue["items"])
    other = await new_learner(gclient)
    assert (await gclient.post(path, headers=other, json={"reason": "not mine"})).status_code == 404


async def test_claude_grades_with_structured_output(
    cclient: Client, cworker: Worker[Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points())])
    headers = await new_learner(cclient)
    review = await assessment(cclient, headers, "schema-review")
    answer = "A thorough review of the schema. Questions to ada.l@gmail.com or +44 20 7946 0958."
    accepted = await _submit(cclient, headers, review["id"], {"text": answer})
    graded = await wait_for(cclient, headers, accepted.json()["id"], "graded")
    assert graded["graded_by"] == "ai"
    assert graded["confidence"] == 1.0
    assert graded["score"] == sum(top_rubric_points())
    assert [c["criterion"] for c in graded["criteria"]] == [
        c["name"] for c in assessment_spec("schema-review")["rubric"]["criteria"]
    ]
    requests = [r for r in fake_anthropic.message_requests if r.body.get("tools")]
    assert len(requests) == 2  # two independent passes
    assert requests[0].body["tool_choice"] == {"type": "tool", "name": "record_grade"}
    # The learner's personal data never reaches the model; the placeholders do, and the grader is told why.
    for request in requests:
        sent = request.body["messages"][0]["content"]
        assert "ada.l@gmail.com" not in sent
        assert "7946" not in sent
        assert "[EMAIL]" in sent
        assert "[PHONE]" in sent
        assert "placeholders" in request.body["system"]


async def test_passes_that_disagree_lower_confidence(
    cclient: Client, cworker: Worker[Any], fake_anthropic: FakeAnthropic
) -> None:
    low = [
        min(level["points"] for level in c["levels"]) for c in assessment_spec("schema-review")["rubric"]["criteria"]
    ]
    fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points()), rubric_tool_input(low)])
    headers = await new_learner(cclient)
    review = await assessment(cclient, headers, "schema-review")
    accepted = await _submit(cclient, headers, review["id"], {"text": "A middling review."})
    waiting = await wait_for(cclient, headers, accepted.json()["id"], "in_review")
    assert waiting["confidence"] is not None
    assert waiting["confidence"] < 0.75


async def test_malformed_grader_output_escalates_without_a_grade(
    cclient: Client, cworker: Worker[Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(tool_inputs=[{"criteria": [{"criterion": "made up", "points": 99}]}])
    headers = await new_learner(cclient)
    review = await assessment(cclient, headers, "schema-review")
    accepted = await _submit(cclient, headers, review["id"], {"text": "Anything."})
    waiting = await wait_for(cclient, headers, accepted.json()["id"], "in_review")
    assert waiting["graded_by"] is None  # no grade was invented
    staff = await auth_headers(cclient, "instructor@demo.test", "demo")
    queue = (await cclient.get("/v1/review/queue", headers=staff, params={"reason": "grader_error"})).json()
    item = next(i for i in queue["items"] if i["submission_id"] == accepted.json()["id"])
    assert item["priority"] == 0
    assert len([r for r in fake_anthropic.message_requests if r.body.get("tools")]) == 2  # retried once


async def test_persistent_provider_failure_lands_in_dead_letters(
    cclient: Client, cworker: Worker[Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        failing_models={"claude-sonnet-4-5": 529}, tool_inputs=[rubric_tool_input(top_rubric_points())]
    )
    headers = await new_learner(cclient)
    review = await assessment(cclient, headers, "schema-review")
    accepted = await _submit(cclient, headers, review["id"], {"text": "Anything at all."})
    failed = await wait_for(cclient, headers, accepted.json()["id"], "failed")
    assert "saved" in failed["detail"]
    admin = await auth_headers(cclient, "admin@demo.test", "demo")
    letters = (await cclient.get("/v1/admin/dead-letters", headers=admin)).json()["items"]
    letter = next(d for d in letters if d["submission_id"] == accepted.json()["id"])
    assert letter["attempts"] == 2
    assert "transient" in letter["reason"]
    learner_view = await cclient.get("/v1/admin/dead-letters", headers=headers)
    assert learner_view.status_code == 403


async def test_code_is_run_against_the_hidden_tests(gclient: Client, gworker: Worker[Any]) -> None:
    slug = next(
        i["slug"] for m in COURSE["modules"] for i in m["items"] if i.get("assessment", {}).get("type") == "code"
    )
    headers = await new_learner(gclient)
    task = await assessment(gclient, headers, slug)
    assert "hidden_tests" not in task["spec"]
    assert "reference_solution" not in task["spec"]
    good = await _submit(gclient, headers, task["id"], {"code": assessment_spec(slug)["reference_solution"]})
    graded = await wait_for(gclient, headers, good.json()["id"], "graded")
    assert graded["score"] == graded["max_score"]
    assert graded["passed"] is True
    looping = await _submit(gclient, headers, task["id"], {"code": "while True:\n    pass\n"})
    stopped = await wait_for(gclient, headers, looping.json()["id"], "graded")
    assert stopped["passed"] is False
    assert "stopped" in stopped["feedback"]


async def test_code_gets_style_feedback_from_the_model(
    cclient: Client, cworker: Worker[Any], fake_anthropic: FakeAnthropic
) -> None:
    slug = next(
        i["slug"] for m in COURSE["modules"] for i in m["items"] if i.get("assessment", {}).get("type") == "code"
    )
    spec = assessment_spec(slug)
    criteria = spec["rubric"]["criteria"]
    style = {
        "criteria": [
            {
                "criterion": c["name"],
                "level": "x",
                "points": max(lv["points"] for lv in c["levels"]),
                "rationale": "Clear names and early returns.",
            }
            for c in criteria
        ]
    }
    fake_anthropic.script(tool_inputs=[style])
    headers = await new_learner(cclient)
    task = await assessment(cclient, headers, slug)
    accepted = await _submit(cclient, headers, task["id"], {"code": spec["reference_solution"]})
    graded = await wait_for(cclient, headers, accepted.json()["id"], "graded")
    assert graded["score"] == graded["max_score"]  # the tests decide the score
    assert "On style and approach" in graded["feedback"]
    assert "Clear names and early returns." in graded["feedback"]


async def test_without_the_sandbox_code_goes_to_a_person_not_run_unisolated(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, seeded: Any
) -> None:
    """Fail closed: with bubblewrap missing the code is not run; the submission waits for a reviewer."""
    settings = make_settings(
        database_url,
        redis_url,
        redis_prefix + "grading-nosandbox:",
        tmp_data_dir,
        LYCEUM_SANDBOX_BWRAP="/nonexistent/bwrap",
        **GRADING_ENV,
    )
    slug = next(
        i["slug"] for m in COURSE["modules"] for i in m["items"] if i.get("assessment", {}).get("type") == "code"
    )
    async for client in app_client(settings):
        async for _worker in in_process_worker(settings):
            headers = await new_learner(client)
            task = await assessment(client, headers, slug)
            accepted = await _submit(client, headers, task["id"], {"code": assessment_spec(slug)["reference_solution"]})
            waiting = await wait_for(client, headers, accepted.json()["id"], "in_review")
            assert waiting["graded_by"] is None  # nothing was run, no grade invented
            staff = await auth_headers(client, "instructor@demo.test", "demo")
            queue = (await client.get("/v1/review/queue", headers=staff, params={"reason": "grader_error"})).json()
            assert any(i["submission_id"] == accepted.json()["id"] for i in queue["items"])
