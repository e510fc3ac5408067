"""GET /v1/courses/{id}/next with the signals of the mastery model and spaced review wired in: a failed
quiz names the competency the learner struggled with and where, and a due review card says so. The
ranking itself is unit-tested (tests/unit/recommendations); this checks the reads that feed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from saq import Worker
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Item
from app.domain.spaced.services import open_review_cards
from tests.support.grading import Client, assessment, assessment_spec, course_by_slug, new_learner, wait_for

QUIZ = "http-fundamentals-quiz"  # multiple choice on the competency http-apis (backend-foundations)


def _items(course: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["slug"]: i for m in course["modules"] for i in m["items"]}


async def _complete(client: Client, headers: dict[str, str], course: dict[str, Any], *slugs: str) -> None:
    items = _items(course)
    for slug in slugs:
        done = await client.post(f"/v1/courses/{course['id']}/items/{items[slug]['id']}/completion", headers=headers)
        assert done.status_code in (200, 201), done.text


def _competency_name(course: dict[str, Any], slug: str) -> str:
    return next(c["name"] for c in course["competencies"] if c["slug"] == slug)


async def test_a_failed_quiz_recommends_a_lesson_on_what_the_learner_struggled_with(
    gclient: Client, gworker: Worker[Any]
) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    await _complete(gclient, headers, course, "http-request-lifecycle", "designing-resources", "bookmarks-api-design")
    quiz = await assessment(gclient, headers, QUIZ)
    wrong = [(q["answer"] + 1) % len(q["options"]) for q in assessment_spec(QUIZ)["questions"]]
    url = f"/v1/assessments/{quiz['id']}/submissions"
    submitted = await gclient.post(url, headers=headers, json={"choices": wrong})
    assert submitted.status_code == 202, submitted.text
    await wait_for(gclient, headers, submitted.json()["id"], "graded")

    response = await gclient.get(f"/v1/courses/{course['id']}/next", headers=headers)
    assert response.status_code == 200, response.text
    reasons = [step["reason"] for step in response.json()["items"]]
    name, title = _competency_name(course, "http-apis"), _items(course)[QUIZ]["title"]
    assert f"You struggled with *{name}* in {title}; this lesson covers it" in reasons, reasons


async def test_a_due_review_card_is_a_reason(gclient: Client, grading_settings: Settings) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    me = (await gclient.get("/v1/me", headers=headers)).json()
    org_id, user_id = UUID(me["org_id"]), UUID(me["user_id"])
    db = Database.from_settings(grading_settings)
    try:
        async with db.transaction(org_id, user_id) as session:
            item_id = await session.scalar(
                select(Item.id).join(Assessment, Assessment.item_id == Item.id).where(Item.slug == QUIZ)
            )
            assert item_id is not None
            # As if the quiz had been passed a week ago: the card for http-apis is due now.
            await open_review_cards(
                session,
                org_id=org_id,
                user_id=user_id,
                course_id=UUID(course["id"]),
                item_id=item_id,
                passed_at=datetime.now(UTC) - timedelta(days=7),
            )
    finally:
        await db.dispose()

    response = await gclient.get(f"/v1/courses/{course['id']}/next", headers=headers)
    assert response.status_code == 200, response.text
    reasons = [step["reason"] for step in response.json()["items"]]
    assert f"Due for review: {_competency_name(course, 'http-apis')}" in reasons, reasons
