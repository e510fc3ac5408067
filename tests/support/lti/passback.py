"""Grade passback as the tests drive it: a learner of an ``LtiWorld`` submits the answer-key quiz, and the
``lti_score_posts`` rows its grade owes the platform (tests/integration/lti/test_grade_passback.py,
tests/integration/lti/test_killed_worker.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db.models import LtiScorePost
from tests.support.grading import Client, assessment, assessment_spec, wait_for
from tests.support.lti.services_fixtures import LtiWorld

QUIZ = "http-fundamentals-quiz"


async def posts_of(world: LtiWorld) -> list[LtiScorePost]:
    async with world.db.transaction(world.org_id) as session:
        rows = await session.scalars(
            select(LtiScorePost).where(LtiScorePost.resource_link_pk == world.link_pk).order_by(LtiScorePost.created_at)
        )
        return list(rows)


async def submit_quiz(client: Client, world: LtiWorld, right: bool = True, deadline_s: float = 60) -> dict[str, Any]:
    """The learner answers the quiz (all right, or all wrong); returns the graded submission."""
    quiz = await assessment(client, world.headers, QUIZ)
    answers = [q["answer"] if right else (q["answer"] + 1) % 2 for q in assessment_spec(QUIZ)["questions"]]
    accepted = await client.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=world.headers, json={"choices": answers}
    )
    assert accepted.status_code == 202, accepted.text
    return await wait_for(client, world.headers, accepted.json()["id"], "graded", deadline_s=deadline_s)
