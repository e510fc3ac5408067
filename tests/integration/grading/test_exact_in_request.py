"""Exact answers are graded in the submitting request (issue 15 item 7), with the worker's guarantees.

- The response carries the grade; no grading job is queued; ``submission.graded`` and the mastery event
  ``assessment.graded`` go out, in that order.
- Announced only after the commit: when the announcement runs, another connection already reads the grade.
- A crash between the commit and the announcement loses nothing: the grade is committed with the answer,
  and the credential the grade owed is queued by the worker's sweep (simulated by dropping the enqueue).
- When grading in the request fails, the answer is still stored (202, ``queued``) and the worker grades it.

Every wait is on a condition; deadlines only bound a run that has already failed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from saq import Worker

import app.domain.grading.services as grading
from app.config import Settings
from app.db.engine import Database
from app.db.models import Submission
from app.lib.events import EventBus
from app.lib.jobs import create_queue, grading_job_key
from app.lib.redis import create_redis
from tests.support.credentials import complete_small_course, load_small_course, wait_for_credentials
from tests.support.databases import owner_sql
from tests.support.grading import Client, assessment, assessment_spec, new_learner, wait_for

QUIZ = "http-fundamentals-quiz"
COURSE = "credential-exact"  # a one-lesson, one-quiz course of this module's own (tests/support/credentials.py)


def _right_choices() -> list[int]:
    return [q["answer"] for q in assessment_spec(QUIZ)["questions"]]


async def _submit(client: Client, headers: dict[str, str], quiz: dict[str, Any]) -> Any:
    accepted = await client.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": _right_choices()}
    )
    assert accepted.status_code == 202, accepted.text
    return accepted.json()


async def _org_of(client: Client, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await client.get("/v1/me", headers=headers)).json()["org_id"])


async def test_the_response_carries_the_grade_and_no_job_is_queued(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, QUIZ)
    accepted = await _submit(gclient, headers, quiz)
    assert accepted["status"] == "graded"
    out = accepted["submission"]
    assert (out["score"], out["passed"]) == (out["max_score"], True)
    assert (out["graded_by"], out["grader"]) == ("auto", "answer_key")
    assert out["questions"]
    assert all(q["correct"] for q in out["questions"])
    assert (await gclient.get(f"/v1/submissions/{accepted['id']}", headers=headers)).json() == out
    queue = create_queue(grading_settings)
    try:
        assert await queue.job(grading_job_key(accepted["id"])) is None  # graded without the queue
    finally:
        await queue.disconnect()
    redis = create_redis(grading_settings.redis_url)
    bus = EventBus(redis, grading_settings.redis_key_prefix)
    try:
        recent = await bus.replay(await _org_of(gclient, headers), None, 500)
    finally:
        await bus.aclose()
        await redis.aclose()
    mine = [e.type for e in recent if e.data.get("submission_id") == accepted["id"]]
    assert mine == ["submission.graded", "assessment.graded"], mine


async def test_the_grade_is_announced_only_once_committed(
    gclient: Client, grading_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    announce = grading.GradeRecorder.announce

    async def checked(self: grading.GradeRecorder, org_id: uuid.UUID, outcome: Any) -> str:
        # Another connection, another transaction: it sees only committed rows.
        db = Database.from_settings(grading_settings)
        try:
            async with db.transaction(org_id) as session:
                submission = await session.get(Submission, outcome.submission_id)
                seen.append((outcome.status, submission.status if submission is not None else "missing"))
        finally:
            await db.dispose()
        return await announce(self, org_id, outcome)

    monkeypatch.setattr(grading.GradeRecorder, "announce", checked)
    headers = await new_learner(gclient)
    accepted = await _submit(gclient, headers, await assessment(gclient, headers, QUIZ))
    assert accepted["status"] == "graded"
    assert seen == [("graded", "graded")]


async def test_a_failing_grader_leaves_the_answer_to_the_worker(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = grading.grade_exactly
    calls: list[str] = []

    def flaky(assessment: Any, answer: dict[str, Any]) -> Any:
        calls.append(assessment.kind)
        if len(calls) == 1:
            raise RuntimeError("a bug in the answer key")  # the request's attempt fails; the worker's works
        return exact(assessment, answer)

    monkeypatch.setattr(grading, "grade_exactly", flaky)
    headers = await new_learner(gclient)
    accepted = await _submit(gclient, headers, await assessment(gclient, headers, QUIZ))
    assert (accepted["status"], accepted["submission"]) == ("queued", None)
    graded = await wait_for(gclient, headers, accepted["id"], "graded")
    assert graded["score"] == graded["max_score"]
    org_id = await _org_of(gclient, headers)
    [[grades]] = await owner_sql(
        grading_settings,
        "select count(*) from grades where submission_id = :s and org_id = :o",
        {"s": accepted["id"], "o": org_id},
    )
    assert grades == 1


@pytest.fixture(scope="module")
async def exact_course(gclient: Client, grading_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp: Path = tmp_path_factory.mktemp("exact-course")
    await load_small_course(grading_settings, "demo", COURSE, "Exact Grading Course", tmp)
    return COURSE


async def test_a_crash_before_the_credential_is_queued_is_recovered_by_the_sweep(
    gclient: Client, gworker: Worker[Any], exact_course: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quiz's grade completes the course (``course.completed``) in the request; the process "dies"
    after the commit, before queueing the credential; the worker's sweep issues it all the same."""
    lost: list[Any] = []

    async def crash(queue: Any, settings: Any, completed: Any) -> int:
        lost.extend(completed)
        return 0

    monkeypatch.setattr(grading, "enqueue_credentials", crash)
    headers = await new_learner(gclient, enrol=None)
    await complete_small_course(gclient, headers, exact_course)
    assert lost, "passing the last item owed a credential"
    assert len(await wait_for_credentials(gclient, headers, deadline_s=120)) == 1
