"""A worker killed in the middle of an LTI grade passback (``lti_post_score``) loses nothing, and the LMS
ends with the score (the killed-worker pattern of tests/integration/credentials/test_killed_worker.py).

The worker is caught mid-post deterministically: the test platform receives the score POST and holds it
open, unanswered (``PlatformServices.stall_scores``), and the worker is SIGKILLed while it waits for the
answer. Its transaction (the row locked ``for update``, not yet marked ``posted``) dies with its connection.

- The job is still in Redis: SAQ's sweep sees its heartbeat stop and retries it in a fresh worker. The LMS
  had recorded the dead worker's post after all (it had the whole request; nobody heard its 200), so the
  retry sends the same score again.
- Redis lost the job as well: the ``lti_post_pending_scores`` cron finds the row still ``pending`` and queues
  it again. Here the dead worker's post is answered only after the redelivery (a slow LMS).

Either way the score is delivered at least once, and always with the timestamp of the grade (not of the
post), so a repeat leaves the LMS's result unchanged (AGS 2.0: a result is replaced by a score whose
timestamp is not older). Every wait is on a condition; the deadlines only bound a run that has already failed.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings, load_settings
from app.db.bootstrap import migrate
from app.db.models import LtiScorePost
from app.lib.jobs import create_queue, lti_score_job_key
from app.lib.lti.ags import iso_timestamp
from app.seed import seed
from app.server.components import components_of
from tests.support.databases import owner_sql, scratch_database
from tests.support.grading import GRADING_ENV, Client, app_client
from tests.support.killed_worker import DEADLINE, forget_queue, kill, start_worker, stop, until
from tests.support.lti.passback import QUIZ, posts_of, submit_quiz
from tests.support.lti.server import PlatformServer, running_platform_server
from tests.support.lti.services import LineItem, PlatformServices
from tests.support.lti.services_fixtures import LtiWorld, build_world, platform_services
from tests.support.stack import RUN_ID, settings_env

SCORE_MAXIMUM = 5.0
# No ``cpu_hog`` of its own: it doubled this module's time (68 s to 124 s, four worker processes started
# on contended cores), and the suite starts it alongside the modules that hog (tests/conftest.py SLOW_FIRST).
pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def passback_env(
    server_database_url: str, worker_id: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path
) -> Iterator[dict[str, str]]:
    """The workers' environment, on a database of this module's own: the pending-score sweep spans its whole
    database, and the session's in-process workers must not deliver this module's interrupted posts."""
    name = f"lyceum_test_{RUN_ID}_{worker_id}_lti_killed".lower()
    with scratch_database(server_database_url, name) as url:
        yield settings_env(
            url,
            redis_url,
            redis_prefix + "lti-killed:",
            tmp_data_dir,
            **{
                **GRADING_ENV,
                "LYCEUM_GRADING_HEARTBEAT_SECONDS": "2",  # SAQ's sweep and the pending-score sweep run this often
                # The held post must still be in flight when the kill lands, however slow the loaded machine
                # is to notice it is held: a timeout would turn the kill into an ordinary retry.
                "LYCEUM_LTI_HTTP_TIMEOUT_SECONDS": "120",
            },
        )


@pytest.fixture(scope="module")
async def passback_settings(passback_env: dict[str, str]) -> Settings:
    settings = load_settings(passback_env)
    await migrate(settings)
    await seed(settings)
    return settings


@pytest.fixture(scope="module")
async def passback_client(passback_settings: Settings) -> AsyncIterator[Client]:
    """The API, on this module's database and queue (the quiz is graded in the request, and the score post
    its grade owes is queued after the commit, for the workers this module starts and kills)."""
    async for client in app_client(passback_settings):
        yield client


@pytest.fixture(scope="module")
def lms_server() -> Iterator[PlatformServer]:
    """One test platform server for the module."""
    with running_platform_server() as server:
        yield server


@pytest.fixture
async def lms(lms_server: PlatformServer, passback_client: Client) -> AsyncIterator[PlatformServices]:
    """The platform's services under a client_id of each test's own (one registration per LtiWorld); whatever
    they still hold open is let go at the end."""
    services = await platform_services(lms_server, passback_client)
    try:
        yield services
    finally:
        services.release_scores()


async def _kill_mid_post(client: Client, lms: PlatformServices, world: LtiWorld, env: dict[str, str]) -> dict[str, Any]:
    """The learner passes the quiz; the worker delivering the score it owes is SIGKILLed while the LMS holds
    its POST open. Returns the graded submission."""
    settings = components_of(client.app).settings
    queue = create_queue(settings)
    lms.stall_scores(1)
    worker = start_worker(env)
    try:
        graded = await submit_quiz(client, world, deadline_s=DEADLINE)
        (post,) = await posts_of(world)

        async def mid_post() -> bool:
            job = await queue.job(lti_score_job_key(post.id))
            return lms.held_scores == 1 and job is not None and job.status == "active"

        await until(mid_post, "the worker's score post to be held open by the LMS")
        kill(worker)
    finally:
        await queue.disconnect()
        stop(worker)
    (interrupted,) = await posts_of(world)
    assert interrupted.status == "pending"  # the "posted" the dead worker was about to commit died with it
    assert lms.scores(world.context) == []
    return graded


async def _until_posted(world: LtiWorld) -> LtiScorePost:
    async def posted() -> bool:
        return [p.status for p in await posts_of(world)] == ["posted"]

    await until(posted, "a fresh worker to deliver the score post")
    (post,) = await posts_of(world)
    return post


def _the_line_item(lms: PlatformServices, world: LtiWorld) -> LineItem:
    (item,) = lms.lineitems[world.context]  # not a second one created by the redelivery
    return item


async def _assert_delivered(
    settings: Settings, lms: PlatformServices, world: LtiWorld, post: LtiScorePost, graded: dict[str, Any], *, sent: int
) -> None:
    """The row is delivered and not dead-lettered, and the LMS shows the grade: every copy it received is the
    same score with the grade's timestamp, so ``sent`` (at least once) copies leave one result."""
    assert post.posted_at is not None
    assert post.last_error == ""
    assert post.attempts >= 2  # the dead worker's claim, then the redelivery's
    letters = await owner_sql(
        settings, "select count(*) from dead_letters where job_key = :k", {"k": lti_score_job_key(post.id)}
    )
    assert letters[0][0] == 0
    item = _the_line_item(lms, world)
    received = [s.body for s in item.scores]
    assert len(received) >= sent, received
    assert all(body == received[0] for body in received), received
    shown = lms.result(item, world.sub)
    assert shown is not None
    assert shown["gradingProgress"] == "FullyGraded"
    assert shown["scoreGiven"] == pytest.approx(graded["score"] / graded["max_score"] * SCORE_MAXIMUM, abs=1e-4)
    assert shown["scoreMaximum"] == SCORE_MAXIMUM
    assert shown["timestamp"] == iso_timestamp(post.created_at)


async def test_killed_mid_post_is_sent_again_and_the_lms_keeps_one_result(
    passback_settings: Settings, passback_client: Client, lms: PlatformServices, passback_env: dict[str, str]
) -> None:
    # No line item yet: the dead worker creates it before its post, and the redelivery must reuse it.
    world = await build_world(passback_client, lms, item_slug=QUIZ, lineitem=False, score_maximum=SCORE_MAXIMUM)
    second: subprocess.Popen[bytes] | None = None
    try:
        graded = await _kill_mid_post(passback_client, lms, world, passback_env)
        # The LMS answers the dead worker's post after all: it records the score; no one hears the 200.
        lms.release_scores()

        async def recorded() -> bool:
            return len(lms.scores(world.context)) == 1

        await until(recorded, "the LMS to record the post it held")
        second = start_worker(passback_env)
        post = await _until_posted(world)
        # Twice: the dead worker's copy and SAQ's retry of its job (a run SAQ's sweep aborts as it starts may
        # add a third, identical copy).
        await _assert_delivered(passback_settings, lms, world, post, graded, sent=2)
        assert len(lms.server.requests(f"/ags/{world.context}/lineitems", method="POST")) == 1
    finally:
        stop(second)
        await world.aclose()


async def test_a_post_lost_with_its_worker_is_queued_again_by_the_sweep(
    passback_settings: Settings,
    passback_client: Client,
    lms: PlatformServices,
    passback_env: dict[str, str],
    redis_url: str,
) -> None:
    world = await build_world(passback_client, lms, item_slug=QUIZ, score_maximum=SCORE_MAXIMUM)
    second: subprocess.Popen[bytes] | None = None
    try:
        graded = await _kill_mid_post(passback_client, lms, world, passback_env)
        # Redis loses the queue as well: only the row in PostgreSQL still knows the LMS is owed a score.
        await forget_queue(redis_url, passback_env["LYCEUM_REDIS_KEY_PREFIX"])
        second = start_worker(passback_env)
        post = await _until_posted(world)
        # The LMS has the score from the redelivery alone: the dead worker's post is still held open.
        assert lms.held_scores == 1
        await _assert_delivered(passback_settings, lms, world, post, graded, sent=1)
        # Now the slow LMS handles that late copy too: the same score and timestamp, the same result.
        lms.release_scores()

        async def late_copy_recorded() -> bool:
            return lms.held_scores == 0 and len(lms.scores(world.context)) >= 2

        await until(late_copy_recorded, "the LMS to record the late copy")
        await _assert_delivered(passback_settings, lms, world, post, graded, sent=2)
    finally:
        stop(second)
        await world.aclose()
