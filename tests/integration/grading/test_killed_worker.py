"""A worker killed mid-job loses nothing: the submission is graded once, by another worker.

Two ways back, both tested with every core busy (``cpu_hog``): this test used to fail on a loaded
machine and pass on an idle one, because its fixed 30-second waits also had to cover starting worker
processes, which is slow when the CPU is contended.

- The job is still in Redis: SAQ's sweep sees its heartbeat stop and retries it.
- Redis lost the job too (data loss, or an embedded Redis that kept nothing): the submission's own
  heartbeat in PostgreSQL goes stale, and the stalled-submission sweep queues it again.

Every wait is on a condition; the deadlines only bound a run that has already failed.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db.bootstrap import migrate
from app.db.engine import Database
from app.db.models import Grade, Submission
from app.seed import seed
from tests.support.databases import scratch_database
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.grading import (
    GRADING_ENV,
    Client,
    app_client,
    assessment,
    new_learner,
    rubric_tool_input,
    top_rubric_points,
    wait_for,
)
from tests.support.killed_worker import DEADLINE, forget_queue, kill, start_worker, stop, until
from tests.support.stack import RUN_ID, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cpu_hog")]


@pytest.fixture(scope="module")
def killed_database_url(server_database_url: str, worker_id: str) -> Iterator[str]:
    """A database of this module's own. The stalled-submission sweep scans every submission in its
    database; the in-process workers other modules keep running for the session (other queues, other
    settings) would otherwise pick up this module's deliberately abandoned submissions."""
    name = f"lyceum_test_{RUN_ID}_{worker_id}_killed".lower()
    with scratch_database(server_database_url, name) as url:
        yield url


@pytest.fixture(scope="module")
def killed_env(
    killed_database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_data_dir: Path,
    fake_anthropic_server: FakeAnthropic,
) -> dict[str, str]:
    return {
        "DATABASE_URL": killed_database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_REDIS_KEY_PREFIX": redis_prefix + "killed:",
        "LYCEUM_DATA_DIR": str(tmp_data_dir),
        "LYCEUM_ENVIRONMENT": "test",
        "LYCEUM_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "LYCEUM_LOG_LEVEL": "WARNING",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": fake_anthropic_server.base_url,
        "LYCEUM_RATE_LIMIT_LOGIN_USER": "10000/60s",
        "LYCEUM_RATE_LIMIT_LOGIN_ORG": "10000/60s",
        "LYCEUM_RATE_LIMIT_LOGIN_GLOBAL": "10000/60s",
        "LYCEUM_RATE_LIMIT_API_USER": "100000/60s",
        **GRADING_ENV,
        # This module's workers are processes of their own that it kills: a short heartbeat (the in-process
        # fixtures use a longer one) so a lost job is recovered within seconds.
        "LYCEUM_GRADING_HEARTBEAT_SECONDS": "2",
        "LYCEUM_GRADING_STALE_SECONDS": "6",  # three heartbeats
    }


def _settings(env: dict[str, str]) -> Settings:
    return make_settings(
        env["DATABASE_URL"],
        env["REDIS_URL"],
        env["LYCEUM_REDIS_KEY_PREFIX"],
        Path(env["LYCEUM_DATA_DIR"]),
        **{k: v for k, v in env.items() if k.startswith(("LYCEUM_", "ANTHROPIC_"))},
    )


@pytest.fixture(scope="module")
async def kclient(killed_env: dict[str, str]) -> AsyncIterator[Client]:
    settings = _settings(killed_env)
    await migrate(settings)
    await seed(settings)
    async for client in app_client(settings):
        yield client


async def _row(env: dict[str, str], org_id: uuid.UUID, submission_id: str) -> tuple[str, int, int]:
    """(status, recoveries, grade rows) of one submission, read as the application does (under RLS)."""
    db = Database.from_settings(_settings(env))
    try:
        async with db.transaction(org_id) as session:
            submission = await session.get(Submission, uuid.UUID(submission_id))
            assert submission is not None
            grades = await session.scalar(
                select(func.count()).select_from(Grade).where(Grade.submission_id == submission.id)
            )
            return submission.status, submission.recoveries, int(grades or 0)
    finally:
        await db.dispose()


async def _kill_mid_grading(
    kclient: Client, env: dict[str, str], fake: FakeAnthropic
) -> tuple[dict[str, str], str, subprocess.Popen[bytes]]:
    """A short answer whose first model call hangs; the worker grading it is killed there (SIGKILL: no
    shutdown hooks, no cleanup, its job is left "active" in Redis). Returns headers, id, dead worker."""
    fake.script(tool_inputs=[rubric_tool_input(top_rubric_points())], stall_seconds=600, stall_times=1)
    headers = await new_learner(kclient)
    review = await assessment(kclient, headers, "schema-review")
    worker = start_worker(env)
    accepted = await kclient.post(
        f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": "My careful review."}
    )
    assert accepted.status_code == 202, accepted.text
    submission_id = accepted.json()["id"]
    await wait_for(kclient, headers, submission_id, "grading", deadline_s=DEADLINE)

    async def in_flight() -> bool:
        return len(fake.message_requests) >= 1

    await until(in_flight, "the model call to be in flight", poll=0.05)
    kill(worker)
    return headers, submission_id, worker


async def test_killed_worker_loses_nothing_and_grades_once(
    kclient: Client, killed_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    first = second = None
    try:
        headers, submission_id, first = await _kill_mid_grading(kclient, killed_env, fake_anthropic)
        second = start_worker(killed_env)
        graded = await wait_for(kclient, headers, submission_id, "graded", deadline_s=DEADLINE)
        assert graded["score"] == sum(top_rubric_points())
        org_id = uuid.UUID((await kclient.get("/v1/me", headers=headers)).json()["org_id"])
        status, _, grades = await _row(killed_env, org_id, submission_id)
        assert (status, grades) == ("graded", 1)
    finally:
        stop(first, second)


async def test_job_lost_with_its_worker_is_recovered_from_the_database(
    kclient: Client, killed_env: dict[str, str], fake_anthropic: FakeAnthropic, redis_url: str
) -> None:
    first = second = None
    try:
        headers, submission_id, first = await _kill_mid_grading(kclient, killed_env, fake_anthropic)
        # Redis loses the queue as well: nothing in Redis knows this submission any more.
        await forget_queue(redis_url, killed_env["LYCEUM_REDIS_KEY_PREFIX"])
        second = start_worker(killed_env)
        graded = await wait_for(kclient, headers, submission_id, "graded", deadline_s=DEADLINE)
        assert graded["score"] == sum(top_rubric_points())
        org_id = uuid.UUID((await kclient.get("/v1/me", headers=headers)).json()["org_id"])
        # Graded once, and by the database sweep: it counted the one recovery.
        assert await _row(killed_env, org_id, submission_id) == ("graded", 1, 1)
    finally:
        stop(first, second)
