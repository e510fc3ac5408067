"""Grade passback (AGS 2.0): a learner who came through LTI is graded, the platform's gradebook hears it.

The learner, context and resource link are the rows a launch leaves (built with the provisioning
functions); grading runs for real (API, Redis, in-process SAQ worker, the fake model); the platform is the
loopback test platform, which checks tokens, scopes, media types and scoreGiven <= scoreMaximum."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import pytest
from saq import Worker
from sqlalchemy import select

from app.db.models import LtiResourceLink, LtiScorePost
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.grading import (
    Client,
    assessment,
    assessment_spec,
    rubric_tool_input,
    top_rubric_points,
    wait_for,
)
from tests.support.lti.passback import QUIZ, posts_of, submit_quiz
from tests.support.lti.services import SCORE_TYPE, PlatformServices, ScoreRecord
from tests.support.lti.services_fixtures import LtiWorld, build_world
from tests.support.stack import auth_headers

ANSWER = "Add a foreign key on order_lines.order_id, check quantity > 0 and index orders by customer."
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def wait_scores(
    platform: PlatformServices, context: str, count: int, deadline_s: float = 90
) -> list[ScoreRecord]:
    """The scores the platform recorded for ``context`` once there are ``count``; the deadline bounds a failure."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        scores = platform.scores(context)
        if len(scores) >= count:
            return scores
        await asyncio.sleep(0.1)
    raise AssertionError(f"the platform got {platform.scores(context)} for {context}, expected {count} scores")


async def wait_post_status(world: LtiWorld, status: str, deadline_s: float = 90) -> LtiScorePost:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        posts = await posts_of(world)
        if posts and posts[-1].status == status:
            return posts[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"score posts never reached {status}: {[(p.grading_progress, p.status) for p in posts]}")


async def submit_short_answer(client: Client, world: LtiWorld) -> str:
    review = await assessment(client, world.headers, "schema-review")
    accepted = await client.post(
        f"/v1/assessments/{review['id']}/submissions", headers=world.headers, json={"text": ANSWER}
    )
    assert accepted.status_code == 202, accepted.text
    submission_id: str = accepted.json()["id"]
    return submission_id


def assert_fully_graded(score: ScoreRecord, world: LtiWorld, given: float, maximum: float) -> None:
    body = score.body
    assert score.content_type.startswith(SCORE_TYPE)
    assert body["userId"] == world.sub
    assert body["activityProgress"] == "Completed"
    assert body["gradingProgress"] == "FullyGraded"
    assert body["scoreMaximum"] == maximum
    assert body["scoreGiven"] == pytest.approx(given, abs=1e-4)
    assert 0 <= body["scoreGiven"] <= body["scoreMaximum"]
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]


async def test_ai_grade_above_threshold_is_posted_fully_graded(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices, fake_anthropic: FakeAnthropic
) -> None:
    world = await build_world(lsclient, platform, score_maximum=20)
    try:
        fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points())])
        submission_id = await submit_short_answer(lsclient, world)
        graded = await wait_for(lsclient, world.headers, submission_id, "graded")
        assert graded["graded_by"] == "ai"
        (score,) = await wait_scores(platform, world.context, 1)
        assert_fully_graded(score, world, graded["score"] / graded["max_score"] * 20, 20)
        post = await wait_post_status(world, "posted")
        assert post.grading_progress == "FullyGraded"
        assert post.posted_at is not None
        assert platform.refused_assertions == []
    finally:
        await world.aclose()


async def test_escalation_posts_pending_manual_then_the_override_fully_graded(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices, fake_anthropic: FakeAnthropic
) -> None:
    world = await build_world(lsclient, platform, score_maximum=10)
    try:
        low = [0.0 for _ in top_rubric_points()]
        fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points()), rubric_tool_input(low)])
        submission_id = await submit_short_answer(lsclient, world)
        waiting = await wait_for(lsclient, world.headers, submission_id, "in_review")
        (pending,) = await wait_scores(platform, world.context, 1)
        assert pending.body["gradingProgress"] == "PendingManual"
        assert pending.body["activityProgress"] == "Submitted"
        assert "scoreGiven" not in pending.body
        assert pending.body["userId"] == world.sub

        staff = await auth_headers(lsclient, "instructor@demo.test", "demo")
        detail = (await lsclient.get(f"/v1/review/submissions/{submission_id}", headers=staff)).json()
        item_id = detail["item"]["id"]
        assert (await lsclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)).status_code == 200
        max_score = waiting["max_score"] or detail["item"].get("max_score")
        decided = await lsclient.post(
            f"/v1/review/items/{item_id}/decision",
            headers=staff,
            json={"action": "override", "score": 7, "reason": "The AI missed the index."},
        )
        assert decided.status_code == 200, decided.text
        graded = await wait_for(lsclient, world.headers, submission_id, "graded")
        scores = await wait_scores(platform, world.context, 2)
        assert [s.body["gradingProgress"] for s in scores] == ["PendingManual", "FullyGraded"]
        assert_fully_graded(scores[1], world, 7 / (graded["max_score"] or max_score) * 10, 10)
        assert scores[1].body["timestamp"] > scores[0].body["timestamp"]
    finally:
        await world.aclose()


async def test_line_item_is_created_on_demand_and_the_token_is_cached(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    world = await build_world(lsclient, platform, item_slug=QUIZ, lineitem=False, score_maximum=None)
    try:
        first = await submit_quiz(lsclient, world, right=True)
        (score,) = await wait_scores(platform, world.context, 1)
        created = platform.server.requests(f"/ags/{world.context}/lineitems", method="POST")
        assert len(created) == 1
        body = created[0].json()
        assert created[0].headers["content-type"].startswith("application/vnd.ims.lis.v2.lineitem+json")
        async with world.db.transaction(world.org_id) as session:
            link = await session.get(LtiResourceLink, world.link_pk)
            assert link is not None
            assert body["resourceLinkId"] == link.resource_link_id
            assert body["label"] == link.title
            assert body["tag"] == f"lyceum:{link.item_id}"
            assert body["scoreMaximum"] == 1.0  # the link had no maximum: the default
            assert link.lineitem_url == platform.lineitems[world.context][0].url  # stored on the link
            assert "?" in link.lineitem_url  # and its query string survived into the scores URL (the platform checks)
        assert_fully_graded(score, world, first["score"] / first["max_score"], 1.0)

        second = await submit_quiz(lsclient, world, right=False)
        scores = await wait_scores(platform, world.context, 2)
        assert_fully_graded(scores[1], world, second["score"] / second["max_score"], 1.0)
        assert len(platform.server.requests(f"/ags/{world.context}/lineitems", method="POST")) == 1  # one line item
        assert platform.token_requests == 1  # the second post used the cached token
    finally:
        await world.aclose()


async def test_429_is_retried_until_the_score_is_accepted(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    world = await build_world(lsclient, platform, item_slug=QUIZ, score_maximum=5)
    try:
        platform.fail_scores(429, 1, {"Retry-After": "0"})
        platform.fail_scores(503, 1)
        graded = await submit_quiz(lsclient, world)
        (score,) = await wait_scores(platform, world.context, 1)
        assert_fully_graded(score, world, graded["score"] / graded["max_score"] * 5, 5)
        post = await wait_post_status(world, "posted")
        assert post.attempts >= 3  # 429, 503, accepted (SAQ's sweep may add an aborted attempt)
        lineitem = platform.lineitems[world.context][0].url.split("?")[0].replace(platform.server.url, "")
        assert len(platform.server.requests(f"{lineitem}/scores")) == 3
    finally:
        await world.aclose()


async def test_a_4xx_is_dead_lettered_at_once(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    world = await build_world(lsclient, platform, item_slug=QUIZ)
    try:
        platform.reject_scores(400)
        await submit_quiz(lsclient, world)
        post = await wait_post_status(world, "failed")
        assert "400" in post.last_error  # and the score was sent once (below): a 400 will not get better
        admin = await auth_headers(lsclient, "admin@demo.test", "demo")
        letters = (await lsclient.get("/v1/admin/dead-letters", headers=admin, params={"limit": 100})).json()["items"]
        mine = [d for d in letters if d["function"] == "lti_post_score" and d["job_key"] == f"lti_post_score:{post.id}"]
        assert len(mine) == 1
        assert mine[0]["submission_id"] == str(post.submission_id)
        lineitem = platform.lineitems[world.context][0].url.split("?")[0].replace(platform.server.url, "")
        await asyncio.sleep(3)  # two sweeps: a failed post is not re-queued
        assert len(platform.server.requests(f"{lineitem}/scores")) == 1
    finally:
        platform.reject_scores(None)
        await world.aclose()


async def test_a_crash_between_commit_and_enqueue_is_recovered_by_the_sweep(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.domain.grading.services as grading

    lost: list[Any] = []
    announced = asyncio.Event()

    async def crash(queue: Any, settings: Any, posts: Any) -> int:
        lost.extend(posts)  # the process died after the commit: nothing was queued
        if posts:
            announced.set()
        return 0

    monkeypatch.setattr(grading, "enqueue_scores", crash)
    world = await build_world(lsclient, platform, item_slug=QUIZ)
    try:
        graded = await submit_quiz(lsclient, world)
        # The worker announces after the commit that made the submission "graded": wait for that step too.
        await asyncio.wait_for(announced.wait(), timeout=90)
        assert lost, "the grade owed a score post"
        (score,) = await wait_scores(platform, world.context, 1)  # the sweep queued it
        assert_fully_graded(score, world, graded["score"] / graded["max_score"] * 20, 20)
        assert (await wait_post_status(world, "posted")).id == lost[0][1]
    finally:
        await world.aclose()


async def test_learners_outside_lti_owe_nothing(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    """A learner with no LTI identity is graded exactly as before: no score post, no platform call."""
    from tests.support.grading import new_learner

    headers = await new_learner(lsclient)
    quiz = await assessment(lsclient, headers, QUIZ)
    answers = [q["answer"] for q in assessment_spec(QUIZ)["questions"]]
    accepted = await lsclient.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": answers}
    )
    await wait_for(lsclient, headers, accepted.json()["id"], "graded")
    world = await build_world(lsclient, platform)  # only to read the table
    try:
        async with world.db.transaction(world.org_id) as session:
            owed = await session.scalar(
                select(LtiScorePost.id).where(LtiScorePost.submission_id == uuid.UUID(accepted.json()["id"]))
            )
        assert owed is None
    finally:
        await world.aclose()


async def test_no_score_scope_owes_nothing(lsclient: Client, lsworker: Worker[Any], platform: PlatformServices) -> None:
    """A platform that granted no score scope would refuse every post: none is written or sent."""
    from tests.support.lti.services import SCOPE_LINEITEM

    world = await build_world(lsclient, platform, item_slug=QUIZ, scopes=[SCOPE_LINEITEM])
    try:
        await submit_quiz(lsclient, world)
        assert await posts_of(world) == []
        assert platform.scores(world.context) == []
    finally:
        await world.aclose()


async def test_a_token_refused_by_the_platform_is_dead_lettered(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    """The platform checks the client assertion (here: it knows the tool under another client_id): no token,
    no score, and no retry loop against a registration that is simply wrong."""
    world = await build_world(lsclient, platform, item_slug=QUIZ)
    try:
        platform.client_id = "someone-else"
        await submit_quiz(lsclient, world)
        post = await wait_post_status(world, "failed")
        assert "401" in post.last_error
        # One fresh try after the refusal, then no retry loop (LYCEUM_LTI_RETRIES=4 would make 8); a run that
        # SAQ's sweep aborts in its first second may add one more.
        assert 2 <= platform.token_requests <= 4
        assert "iss/sub is not the client_id" in platform.refused_assertions
        assert platform.scores(world.context) == []
    finally:
        await world.aclose()
