"""What a reviewer sees beside a grade: the learner's dispute reason, which grader graded, every hidden
test of a code task (with its checks, expected and actual values) and only the rubric that applied."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import msgspec
from saq import Worker

from app.config import Settings
from app.lib.events import EventBus
from app.lib.redis import create_redis
from tests.support.grading import Client, assessment, new_learner, wait_for
from tests.support.stack import auth_headers

ROOT = Path(__file__).resolve().parents[3]
COURSE = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
SPECS = {i["slug"]: i["assessment"] for m in COURSE["modules"] for i in m["items"] if "assessment" in i}
CODE_SLUG = next(slug for slug, spec in SPECS.items() if spec.get("type") == "code")
DISPUTE = "Question 3 accepts two answers: the spec allows both 200 and 204."


async def _dispute(client: Client, learner: dict[str, str], submission_id: str, reason: str) -> dict[str, Any]:
    disputed = await client.post(f"/v1/submissions/{submission_id}/disagree", headers=learner, json={"reason": reason})
    assert disputed.status_code == 200, disputed.text
    staff = await auth_headers(client, "instructor@demo.test", "demo")
    detail: dict[str, Any] = (await client.get(f"/v1/review/submissions/{submission_id}", headers=staff)).json()
    return detail


async def _graded_event(settings: Settings, client: Client, learner: dict[str, str], submission_id: str) -> Any:
    redis = create_redis(settings.redis_url)
    bus = EventBus(redis, settings.redis_key_prefix)
    try:
        me = (await client.get("/v1/me", headers=learner)).json()
        events = await bus.replay(uuid.UUID(me["org_id"]), None, 500)
    finally:
        await bus.aclose()
        await redis.aclose()
    return next(e for e in events if e.type == "submission.graded" and e.data["submission_id"] == submission_id)


async def test_dispute_reason_reaches_queue_and_grading_view(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    learner = await new_learner(gclient)
    quiz = await assessment(gclient, learner, "http-fundamentals-quiz")
    choices = [q["answer"] for q in SPECS["http-fundamentals-quiz"]["questions"]]
    path = f"/v1/assessments/{quiz['id']}/submissions"
    accepted = await gclient.post(path, headers=learner, json={"choices": choices})
    graded = await wait_for(gclient, learner, accepted.json()["id"], "graded")
    assert graded["graded_by"] == "auto"
    assert graded["grader"] == "answer_key"  # not "AI"
    event = await _graded_event(grading_settings, gclient, learner, accepted.json()["id"])
    assert event.data["graded_by"] == "auto"  # the field as it was, beside the finer one
    assert event.data["grader"] == "answer_key"

    detail = await _dispute(gclient, learner, accepted.json()["id"], DISPUTE)
    assert detail["item"]["reason"] == "disagreement"
    assert detail["item"]["dispute_reason"] == DISPUTE
    assert detail["item"]["grader"] == "answer_key"
    assert detail["rubric_applied"] is False
    assert detail["tests"] == []

    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    params = {"reason": "disagreement", "limit": 100}
    queue = (await gclient.get("/v1/review/queue", headers=staff, params=params)).json()
    row = next(i for i in queue["items"] if i["submission_id"] == accepted.json()["id"])
    assert row["dispute_reason"] == DISPUTE
    # Learners never read the queue, and so never another learner's dispute.
    assert (await gclient.get("/v1/review/queue", headers=learner)).status_code == 403


async def test_code_review_shows_every_test_and_no_unused_rubric(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    learner = await new_learner(gclient)
    task = await assessment(gclient, learner, CODE_SLUG)
    # The reference solution, but lower-casing the token: the one test with capitals in its token fails.
    code = SPECS[CODE_SLUG]["reference_solution"].replace("return token", "return token.lower()")
    assert code != SPECS[CODE_SLUG]["reference_solution"]
    accepted = await gclient.post(f"/v1/assessments/{task['id']}/submissions", headers=learner, json={"code": code})
    graded = await wait_for(gclient, learner, accepted.json()["id"], "graded")
    assert graded["grader"] == "unit_tests"
    assert 0 < graded["score"] < graded["max_score"]
    assert (await _graded_event(grading_settings, gclient, learner, accepted.json()["id"])).data[
        "grader"
    ] == "unit_tests"

    detail = await _dispute(gclient, learner, accepted.json()["id"], "My scheme check is what the spec says.")
    assert detail["item"]["grader"] == "unit_tests"
    assert detail["rubric_applied"] is False  # offline: no model added style feedback, the tests decided
    tests = {t["name"]: t for t in detail["tests"]}
    failing = [t for t in tests.values() if not t["passed"]]
    assert [t["name"] for t in failing] == ["test_jwt_like_token_with_padding"], tests
    fail = failing[0]
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl=="
    assert token in fail["expected"], fail
    assert token.lower() in fail["actual"], fail
    assert fail["checks"] == ['assert parse_bearer_token(f"Bearer {token}") == token']
    passing = tests["test_returns_the_token"]
    assert passing["passed"] is True
    assert passing["checks"] == ['assert parse_bearer_token("Bearer abc123") == "abc123"']
    malformed = [t for t in tests.values() if t["name"].startswith("test_rejects_malformed_headers")]
    assert malformed
    assert all(t["passed"] for t in malformed)
    # A parametrised case shows its own input, then what the test checks.
    first = tests["test_rejects_malformed_headers[0]"]
    assert first["checks"] == ["header = None", "with pytest.raises(ValueError):"], first
    assert tests["test_rejects_malformed_headers[3]"]["checks"][0] == 'header = "Bearer"'


async def test_offline_short_answer_is_labelled_offline_keywords(gclient: Client, gworker: Worker[Any]) -> None:
    learner = await new_learner(gclient)
    review = await assessment(gclient, learner, "schema-review")
    text = "Add a foreign key on order_lines.order_id and an index on orders."
    accepted = await gclient.post(f"/v1/assessments/{review['id']}/submissions", headers=learner, json={"text": text})
    await wait_for(gclient, learner, accepted.json()["id"], "in_review")
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    detail = (await gclient.get(f"/v1/review/submissions/{accepted.json()['id']}", headers=staff)).json()
    assert detail["item"]["grader"] == "offline_keywords"
    assert detail["item"]["dispute_reason"] == ""
    assert detail["rubric_applied"] is True
