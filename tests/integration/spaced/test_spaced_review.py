"""Spaced review (issue 12 §7): a pass opens cards, GET /v1/me/reviews/due lists their questions (paged,
without answers), answering records a rating and reschedules, the daily job counts what is due."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from saq import Worker
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Course, Item, ReviewCard, ReviewDueCount, ReviewLog
from app.domain.spaced.services import DueCounter, open_review_cards
from app.seed import seed
from jobs import tasks
from jobs.worker import create_worker
from tests.support.grading import Client, assessment, assessment_spec, new_learner, wait_for
from tests.support.stack import auth_headers

QUIZ = "http-fundamentals-quiz"  # multiple choice, competency http-apis
CHECK = "auth-and-testing-check"  # multiple choice, competencies authentication + backend-testing
ANSWERS = [q["answer"] for q in assessment_spec(QUIZ)["questions"]]


async def _me(client: Client, headers: dict[str, str]) -> tuple[uuid.UUID, uuid.UUID]:
    me = (await client.get("/v1/me", headers=headers)).json()
    return uuid.UUID(me["org_id"]), uuid.UUID(me["user_id"])


async def _cards(settings: Settings, org_id: uuid.UUID, user_id: uuid.UUID) -> list[ReviewCard]:
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            return list(
                await session.scalars(
                    select(ReviewCard).where(ReviewCard.user_id == user_id).order_by(ReviewCard.due_at)
                )
            )
    finally:
        await db.dispose()


async def _demo_cards(settings: Settings, org_id: uuid.UUID, user_id: uuid.UUID) -> tuple[list[ReviewCard], int]:
    """Leo's cards from his ``passed:`` quizzes, and how many more his finished Distributed Systems Lab
    opened (answered today by the seed, so those fall due later: seed.yaml ``completed:``)."""
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            rows = (
                await session.execute(
                    select(ReviewCard, Course.slug)
                    .join(Course, Course.id == ReviewCard.course_id)
                    .where(ReviewCard.user_id == user_id)
                    .order_by(ReviewCard.due_at)
                )
            ).all()
    finally:
        await db.dispose()
    lab = [card for card, slug in rows if slug == "distributed-systems-lab"]
    return [card for card, slug in rows if slug != "distributed-systems-lab"], len(lab)


async def _passed_long_ago(
    client: Client, settings: Settings, headers: dict[str, str], *slugs: str, days: int = 5
) -> list[ReviewCard]:
    """Cards opened by the scheduler hook as if ``slugs`` had been passed ``days`` ago (due now)."""
    org_id, user_id = await _me(client, headers)
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id, user_id) as session:
            for slug in slugs:
                item, course_id = (
                    await session.execute(
                        select(Item.id, Item.course_id)
                        .join(Assessment, Assessment.item_id == Item.id)
                        .where(Item.slug == slug)
                    )
                ).one()
                await open_review_cards(
                    session,
                    org_id=org_id,
                    user_id=user_id,
                    course_id=course_id,
                    item_id=item,
                    passed_at=datetime.now(UTC) - timedelta(days=days),
                )
    finally:
        await db.dispose()
    return await _cards(settings, org_id, user_id)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_a_pass_opens_one_card_per_competency_and_a_later_pass_keeps_it(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, QUIZ)
    first = await gclient.post(f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": ANSWERS})
    graded = await wait_for(gclient, headers, first.json()["id"], "graded")
    assert graded["passed"] is True
    org_id, user_id = await _me(gclient, headers)
    [card] = await _cards(grading_settings, org_id, user_id)
    assert card.reps == 0
    assert card.fsrs["state"] == 2  # Review: the pass was its first review (Good), no learning steps
    assert card.due_at - card.last_review_at == timedelta(days=2)  # type: ignore[operator]
    assert (await gclient.get("/v1/me/reviews/summary", headers=headers)).json()["due"] == 0

    again = await gclient.post(f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": ANSWERS})
    await wait_for(gclient, headers, again.json()["id"], "graded")
    [kept] = await _cards(grading_settings, org_id, user_id)
    assert (kept.id, kept.due_at, kept.fsrs) == (card.id, card.due_at, card.fsrs)


async def test_the_demo_learner_has_reviews_due_after_seeding(gclient: Client, grading_settings: Settings) -> None:
    """content/seed.yaml: Leo passed two quizzes days ago, through the normal grading path, so right after
    seeding three cards are due (a browser test in the same run may have answered some since)."""
    headers = await auth_headers(gclient, "learner@demo.test", "demo")
    cards, lab_cards = await _demo_cards(grading_settings, *(await _me(gclient, headers)))
    assert len(cards) == 3
    assert lab_cards > 0  # his finished lab (and its credential) opened cards due later
    unanswered = [c for c in cards if c.reps == 0]
    assert all(c.due_at <= datetime.now(UTC) for c in unanswered)
    due = (await gclient.get("/v1/me/reviews/due", headers=headers)).json()
    assert due["total"] >= len(unanswered)
    if due["items"]:
        assert due["items"][0]["course_title"] == "Backend Foundations"
    summary = (await gclient.get("/v1/me/reviews/summary", headers=headers)).json()
    assert summary["due"] == due["total"]
    progress = (await gclient.get("/v1/learning", headers=headers)).json()
    assert any(g["passed"] for g in progress["recent_grades"])


async def test_due_lists_questions_without_answers_paged_like_search(
    gclient: Client, grading_settings: Settings
) -> None:
    headers = await new_learner(gclient)
    cards = await _passed_long_ago(gclient, grading_settings, headers, QUIZ, CHECK)
    assert len(cards) == 3  # http-apis; authentication and backend-testing
    page = await gclient.get("/v1/me/reviews/due", headers=headers, params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert set(body) >= {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (3, 2, 0, 2)
    assert body["next"] == "/v1/me/reviews/due?limit=2&offset=2"
    rest = (await gclient.get("/v1/me/reviews/due", headers=headers, params={"limit": 2, "offset": 2})).json()
    assert len(rest["items"]) == 1
    assert rest["next"] is None
    listed = body["items"] + rest["items"]
    assert {i["card_id"] for i in listed} == {str(c.id) for c in cards}
    for entry in listed:
        question = entry["question"]
        assert question["kind"] == "multiple_choice"
        assert question["ref"].endswith("#0")  # no answers yet: each card asks its bank's first question
        assert "answer" not in question
        assert "explanation" not in question
        assert len(question["options"]) >= 2
    assert "answer" not in page.text
    assert "explanation" not in page.text
    bad = await gclient.get("/v1/me/reviews/due", headers=headers, params={"limit": 0})
    _problem(bad, 422)


async def test_answering_records_the_rating_and_reschedules(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient)
    [card] = await _passed_long_ago(gclient, grading_settings, headers, QUIZ)
    due = (await gclient.get("/v1/me/reviews/due", headers=headers)).json()["items"][0]
    ref = due["question"]["ref"]
    right = assessment_spec(QUIZ)["questions"][0]["answer"]
    answered = await gclient.post(
        f"/v1/me/reviews/{card.id}/answers", headers=headers, json={"question_ref": ref, "choice": right}
    )
    assert answered.status_code == 201, answered.text
    out = answered.json()
    assert (out["correct"], out["rating"], out["answer"], out["reps"]) == (True, "good", right, 1)
    assert "idempotent" in out["explanation"]  # shown only now, after answering
    assert datetime.fromisoformat(out["due_at"]) > datetime.now(UTC) + timedelta(days=3)
    after = (await gclient.get("/v1/me/reviews/due", headers=headers)).json()
    assert after["total"] == 0
    summary = (await gclient.get("/v1/me/reviews/summary", headers=headers)).json()
    assert summary["due"] == 0
    assert datetime.fromisoformat(summary["next_due_at"]) == datetime.fromisoformat(out["due_at"])

    # Answered early, the next question comes round (rotation by reps); a wrong choice is Again and
    # brings the card back ten minutes later (relearning).
    wrong = await gclient.post(
        f"/v1/me/reviews/{card.id}/answers",
        headers=headers,
        json={"question_ref": f"{QUIZ}#1", "choice": 0},
    )
    assert wrong.status_code == 201, wrong.text
    assert (wrong.json()["correct"], wrong.json()["rating"], wrong.json()["answer"]) == (False, "again", 2)
    relearn = datetime.fromisoformat(wrong.json()["due_at"]) - datetime.fromisoformat(wrong.json()["answered_at"])
    assert relearn == timedelta(minutes=10)
    org_id, _user_id = await _me(gclient, headers)
    db = Database.from_settings(grading_settings)
    async with db.transaction(org_id) as session:
        logs = list(
            await session.scalars(select(ReviewLog).where(ReviewLog.card_id == card.id).order_by(ReviewLog.answered_at))
        )
        stored = await session.get(ReviewCard, card.id)
    await db.dispose()
    assert [(log.question_ref, log.choice, log.correct, log.rating) for log in logs] == [
        (f"{QUIZ}#0", right, True, 3),
        (f"{QUIZ}#1", 0, False, 1),
    ]
    assert stored is not None
    assert (stored.reps, stored.lapses) == (2, 1)


async def test_an_answer_is_idempotent_on_its_key(gclient: Client, grading_settings: Settings, redis: Any) -> None:
    headers = await new_learner(gclient)
    [card] = await _passed_long_ago(gclient, grading_settings, headers, QUIZ)
    url = f"/v1/me/reviews/{card.id}/answers"
    keyed = {**headers, "Idempotency-Key": f"review-{uuid.uuid4()}"}
    body = {"question_ref": f"{QUIZ}#0", "choice": ANSWERS[0]}
    first = await gclient.post(url, headers=keyed, json=body)
    replay = await gclient.post(url, headers=keyed, json=body)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    # Even when Redis has forgotten the key, the stored answer (review_logs) answers the replay.
    org_id, user_id = await _me(gclient, headers)
    digest = hashlib.sha256(f"{org_id}:{user_id}|{url}|{keyed['Idempotency-Key']}".encode()).hexdigest()
    assert await redis.delete(f"{grading_settings.redis_key_prefix}idem:{digest}") == 1
    late = await gclient.post(url, headers=keyed, json=body)
    assert late.status_code == 201, late.text
    assert late.json()["due_at"] == first.json()["due_at"]
    db = Database.from_settings(grading_settings)
    async with db.transaction(org_id) as session:
        count = await session.scalar(text("select count(*) from review_logs where card_id = :c"), {"c": card.id})
        stored = await session.get(ReviewCard, card.id)
    await db.dispose()
    assert count == 1
    assert stored is not None
    assert stored.reps == 1


async def test_bad_answers_are_problems_not_errors(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient)
    [card] = await _passed_long_ago(gclient, grading_settings, headers, QUIZ)
    url = f"/v1/me/reviews/{card.id}/answers"
    ref = f"{QUIZ}#0"
    cases: list[tuple[str, Any, int]] = [
        (url, {"question_ref": ref}, 422),  # no choice
        (url, {"question_ref": ref, "choice": 99}, 422),  # no such option
        (url, {"question_ref": ref, "choice": 1, "rating": "good"}, 422),  # both
        (url, {"question_ref": ref, "rating": "good"}, 422),  # the key rates multiple choice
        (url, {"question_ref": ref, "rating": "superb"}, 422),
        (url, {"question_ref": "no-such-quiz#0", "choice": 0}, 422),
        (url, {"question_ref": "a\u0000b", "choice": 0}, 422),  # NUL refused where the body is decoded
        (url, {"question_ref": ref, "choice": -1}, 422),
        (url, {"question_ref": ref, "choice": 0, "extra": 1}, 422),
        (url, [1, 2], 422),
        (f"/v1/me/reviews/{uuid.uuid4()}/answers", {"question_ref": ref, "choice": 0}, 404),
        ("/v1/me/reviews/not-a-uuid/answers", {"question_ref": ref, "choice": 0}, 404),
    ]
    for path, body, status in cases:
        response = await gclient.post(path, headers=headers, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    nul = await gclient.get("/v1/me/reviews/due", headers=headers, params={"limit": "1\u0000"})
    assert 400 <= nul.status_code < 500
    # Nothing above reviewed the card.
    [unchanged] = await _cards(grading_settings, *(await _me(gclient, headers)))
    assert unchanged.reps == 0


async def test_another_learners_card_is_not_found_and_other_orgs_see_nothing(
    gclient: Client, grading_settings: Settings
) -> None:
    owner = await new_learner(gclient)
    [card] = await _passed_long_ago(gclient, grading_settings, owner, QUIZ)
    other = await new_learner(gclient)
    body = {"question_ref": f"{QUIZ}#0", "choice": ANSWERS[0]}
    _problem(await gclient.post(f"/v1/me/reviews/{card.id}/answers", headers=other, json=body), 404)
    assert str(card.id) not in (await gclient.get("/v1/me/reviews/due", headers=other)).text
    acme = await auth_headers(gclient, "learner@acme.test", "acme")
    _problem(await gclient.post(f"/v1/me/reviews/{card.id}/answers", headers=acme, json=body), 404)
    # Row-level security: in another org's scope the card does not exist at all.
    acme_org, _ = await _me(gclient, acme)
    db = Database.from_settings(grading_settings)
    async with db.transaction(acme_org) as session:
        assert await session.get(ReviewCard, card.id) is None
        assert await session.scalar(text("select count(*) from review_logs where card_id = :c"), {"c": card.id}) == 0
    await db.dispose()


async def test_the_daily_job_counts_what_is_due_per_learner(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient)
    await _passed_long_ago(gclient, grading_settings, headers, QUIZ, CHECK)
    org_id, user_id = await _me(gclient, headers)
    db = Database.from_settings(grading_settings)
    now = datetime.now(UTC)
    try:
        report = await DueCounter(db).precompute(now)
        again = await DueCounter(db).precompute(now)  # the same day: overwritten, not doubled
        async with db.transaction(org_id) as session:
            rows = list(await session.scalars(select(ReviewDueCount).where(ReviewDueCount.user_id == user_id)))
    finally:
        await db.dispose()
    assert report.orgs >= 1
    assert report.learners >= 1
    assert report.due_now >= 3
    assert again.learners == report.learners
    [row] = rows
    assert (row.day, row.due_now, row.due_today) == (now.date(), 3, 3)
    summary = (await gclient.get("/v1/me/reviews/summary", headers=headers)).json()
    assert (summary["due"], summary["planned_today"]) == (3, 3)


async def test_the_worker_runs_the_job_daily(gworker: Worker[Any], grading_settings: Settings) -> None:
    worker = create_worker(grading_settings, handle_signals=False)
    crons = {cron.function.__name__: cron.cron for cron in worker.cron_jobs}
    assert crons["precompute_review_due"] == grading_settings.spaced_review_cron == "5 0 * * *"
    assert tasks.precompute_review_due.__name__ in worker.functions
    # The task shell through a real worker and queue: it reports what DueCounter wrote.
    # retries: SAQ's sweep can abort a job caught between its dequeue and its "active" mark (a race that a
    # busy machine widens); the cron job retries, and so does this one. The job is idempotent per day.
    result = await gworker.queue.apply("precompute_review_due", timeout=120, retries=3)
    assert result["day"] == datetime.now(UTC).date().isoformat()
    assert result["learners"] >= 1


async def test_a_short_answer_prompt_is_self_rated(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient)
    [card] = await _passed_long_ago(gclient, grading_settings, headers, "schema-review")  # data-modelling
    [due] = (await gclient.get("/v1/me/reviews/due", headers=headers)).json()["items"]
    assert (due["card_id"], due["question"]["kind"], due["question"]["options"]) == (str(card.id), "self_rated", [])
    url = f"/v1/me/reviews/{card.id}/answers"
    ref = due["question"]["ref"]
    _problem(await gclient.post(url, headers=headers, json={"question_ref": ref, "choice": 0}), 422)
    rated = await gclient.post(url, headers=headers, json={"question_ref": ref, "rating": "hard"})
    assert rated.status_code == 201, rated.text
    out = rated.json()
    assert (out["rating"], out["correct"], out["answer"]) == ("hard", None, None)
    assert out["explanation"].startswith("A good answer covers")
    assert due["question"]["guidance"] == out["explanation"]  # the rubric's criteria, public on the assessment


async def test_a_reviewers_passing_override_opens_the_card(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    """The other way an assessment passes: a short answer escalated to a person, who overrides to a pass."""
    headers = await new_learner(gclient)
    review = await assessment(gclient, headers, "schema-review")  # short answer; competency data-modelling
    text_answer = "Add a foreign key on order_lines.order_id, check quantity > 0 and index orders by customer."
    accepted = await gclient.post(
        f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": text_answer}
    )
    await wait_for(gclient, headers, accepted.json()["id"], "in_review")
    org_id, user_id = await _me(gclient, headers)
    assert await _cards(grading_settings, org_id, user_id) == []  # not passed yet
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    detail = (await gclient.get(f"/v1/review/submissions/{accepted.json()['id']}", headers=staff)).json()
    item_id, max_score = detail["item"]["id"], detail["item"]["max_score"]
    assert (await gclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)).status_code == 200
    body = {"action": "override", "score": max_score, "feedback": "Well argued.", "reason": "Grader too harsh"}
    decided = await gclient.post(f"/v1/review/items/{item_id}/decision", headers=staff, json=body)
    assert decided.status_code == 200, decided.text
    [card] = await _cards(grading_settings, org_id, user_id)
    own = (await gclient.get(f"/v1/submissions/{accepted.json()['id']}", headers=headers)).json()
    submitted = datetime.fromisoformat(own["created_at"])
    assert card.last_review_at == submitted  # scheduled from the learner's answer, not the decision
    assert card.due_at == submitted + timedelta(days=2)


async def test_passing_a_code_task_opens_cards_its_competencies_have_questions_for(
    gclient: Client, grading_settings: Settings
) -> None:
    """A code assessment is not review material itself, but the competencies it covers are reviewed with
    the course's other questions on them (here the multiple-choice auth-and-testing-check)."""
    headers = await new_learner(gclient)
    cards = await _passed_long_ago(gclient, grading_settings, headers, "bearer-token-parser")
    assert len(cards) == 2  # authentication, backend-testing
    due = (await gclient.get("/v1/me/reviews/due", headers=headers)).json()["items"]
    assert {d["question"]["ref"].split("#")[0] for d in due} == {CHECK}


async def test_seeding_again_records_the_demo_history_once(gclient: Client, grading_settings: Settings) -> None:
    report = await seed(grading_settings)
    assert report.passes_recorded == 0  # the first seed (the session's) recorded them
    assert report.credentials_issued == 0  # and issued Leo's credential
    headers = await auth_headers(gclient, "learner@demo.test", "demo")
    org_id, user_id = await _me(gclient, headers)
    cards, lab_cards = await _demo_cards(grading_settings, org_id, user_id)
    assert (len(cards), lab_cards) == (3, 3)
    db = Database.from_settings(grading_settings)
    async with db.transaction(org_id) as session:
        keys = list(
            await session.scalars(
                text("select idempotency_key from submissions where user_id = :u and idempotency_key like 'seed:%'"),
                {"u": user_id},
            )
        )
    await db.dispose()
    assert sorted(keys) == [
        "seed:completed:distributed-systems-lab/account-projection",
        "seed:completed:distributed-systems-lab/queue-failure-analysis",
        "seed:completed:distributed-systems-lab/raft-quiz",
        "seed:passed:backend-foundations/auth-and-testing-check",
        "seed:passed:scalable-systems/observability-quiz",
    ]
