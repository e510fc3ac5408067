"""A worker killed in the middle of ``issue_credential`` loses nothing and issues once (the grading
killed-worker pattern, tests/integration/grading/test_killed_worker.py).

The job is held mid-transaction deterministically: the test locks the enrolment row, so the worker's issue
waits on it (``select ... for update``, the first thing ``IssuanceService.issue`` does) until it is killed.

- The job is still in Redis: SAQ's sweep sees its heartbeat stop and retries it on another worker.
- Redis lost the job as well: the ``issue_pending_credentials`` cron finds the completed enrolment with no
  credential and queues it again.

Every wait is on a condition; the deadlines only bound a run that has already failed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.bootstrap import migrate
from app.db.engine import Database, create_engine, owner_url
from app.db.models import Membership, Organization, User
from app.domain.credentials.enqueue import enqueue_issue_credential
from app.domain.credentials.issuance import IssuanceService
from app.lib.jobs import create_queue, credential_job_key
from app.seed import _complete_course, seed
from tests.support.credentials import load_small_course
from tests.support.databases import owner_sql, scratch_database
from tests.support.killed_worker import forget_queue, kill, start_worker, stop, until
from tests.support.stack import RUN_ID, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cpu_hog")]


@pytest.fixture(scope="module")
def issue_database_url(server_database_url: str, worker_id: str) -> Iterator[str]:
    """A database of this module's own: the pending-credential sweep spans its whole database, and the
    session's other workers must not issue this module's held-back credentials."""
    name = f"lyceum_test_{RUN_ID}_{worker_id}_issue_killed".lower()
    with scratch_database(server_database_url, name) as url:
        yield url


@pytest.fixture(scope="module")
def issue_env(issue_database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": issue_database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_REDIS_KEY_PREFIX": redis_prefix + "issue-killed:",
        "LYCEUM_DATA_DIR": str(tmp_data_dir),
        "LYCEUM_ENVIRONMENT": "test",
        "LYCEUM_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "LYCEUM_LOG_LEVEL": "WARNING",
        "LYCEUM_GRADING_HEARTBEAT_SECONDS": "2",  # SAQ's sweep runs this often
    }


def _settings(env: dict[str, str]) -> Settings:
    return make_settings(
        env["DATABASE_URL"],
        env["REDIS_URL"],
        env["LYCEUM_REDIS_KEY_PREFIX"],
        Path(env["LYCEUM_DATA_DIR"]),
        **{k: v for k, v in env.items() if k.startswith("LYCEUM_")},
    )


@pytest.fixture(scope="module")
async def prepared(issue_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _settings(issue_env)
    await migrate(settings)
    await seed(settings)
    await load_small_course(settings, "demo", "killed-mini", "Killed Mini Course", tmp_path_factory.mktemp("c"))
    return settings


async def _completed_enrolment(settings: Settings, course_slug: str = "killed-mini") -> tuple[uuid.UUID, uuid.UUID]:
    """A new demo learner who finished the course (the seed's keyed path, no job queued): (org, enrolment)."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn, expire_on_commit=False) as session:
            org_id = (await session.execute(select(Organization.id).where(Organization.slug == "demo"))).scalar_one()
            user = User(email=f"killed-{uuid.uuid4().hex[:10]}@demo.test", name="Kim Killed", password_hash="x")
            session.add(user)
            await session.flush()
            session.add(Membership(org_id=org_id, user_id=user.id, role="learner"))
            await session.flush()
            enrollment_id = await _complete_course(session, org_id, user.id, course_slug)
            await session.commit()
        assert enrollment_id is not None
        return org_id, enrollment_id
    finally:
        await engine.dispose()


async def _credentials(settings: Settings, enrollment_id: uuid.UUID) -> int:
    rows = await owner_sql(settings, "select count(*) from credentials where enrollment_id = :e", {"e": enrollment_id})
    return int(rows[0][0])


@pytest.fixture
async def held(prepared: Settings) -> AsyncIterator[dict[str, Any]]:
    """A completed enrolment whose row the test holds locked (so its issue waits mid-transaction)."""
    org_id, enrollment_id = await _completed_enrolment(prepared)
    engine = create_engine(owner_url(prepared.database_url), pool_size=1)
    conn = await engine.connect()
    transaction = await conn.begin()
    await conn.execute(text("select id from enrollments where id = :e for update"), {"e": enrollment_id})
    try:
        yield {"org_id": org_id, "enrollment_id": enrollment_id, "release": transaction.rollback}
    finally:
        if transaction.is_active:
            await transaction.rollback()
        await conn.close()
        await engine.dispose()


async def _kill_mid_issue(settings: Settings, env: dict[str, str], held: dict[str, Any]) -> None:
    """Queue the job, let a worker take it and block on the held row, then SIGKILL that worker."""
    queue = create_queue(settings)
    worker = None
    try:
        assert await enqueue_issue_credential(queue, settings, held["org_id"], held["enrollment_id"])
        worker = start_worker(env)

        async def waiting_on_the_row() -> bool:
            job = await queue.job(credential_job_key(held["enrollment_id"]))
            blocked = await owner_sql(
                settings,
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock' and query ilike '%enrollments%'",
            )
            return job is not None and job.status == "active" and int(blocked[0][0]) >= 1

        await until(waiting_on_the_row, "the worker's issue to wait on the enrolment row")
        kill(worker)
    finally:
        await queue.disconnect()
        stop(worker)


async def test_killed_mid_issue_is_issued_once_by_another_worker(
    prepared: Settings, issue_env: dict[str, str], held: dict[str, Any]
) -> None:
    second = None
    try:
        await _kill_mid_issue(prepared, issue_env, held)
        await held["release"]()
        assert await _credentials(prepared, held["enrollment_id"]) == 0
        second = start_worker(issue_env)

        async def issued() -> bool:
            return await _credentials(prepared, held["enrollment_id"]) >= 1

        await until(issued, "another worker to issue the credential")
    finally:
        stop(second)
    assert await _credentials(prepared, held["enrollment_id"]) == 1
    db = Database.from_settings(prepared)
    try:
        again = await IssuanceService(db, prepared).issue(held["org_id"], held["enrollment_id"])
    finally:
        await db.dispose()
    assert again.outcome == "exists"


async def test_a_job_lost_with_its_worker_is_queued_again_by_the_sweep(
    prepared: Settings, issue_env: dict[str, str], held: dict[str, Any], redis_url: str
) -> None:
    second = None
    try:
        await _kill_mid_issue(prepared, issue_env, held)
        # Redis loses the queue as well: nothing there knows this enrolment any more.
        await forget_queue(redis_url, issue_env["LYCEUM_REDIS_KEY_PREFIX"])
        await held["release"]()
        second = start_worker(issue_env)

        async def issued() -> bool:
            return await _credentials(prepared, held["enrollment_id"]) >= 1

        await until(issued, "the sweep to queue the lost job again and a worker to issue it")
    finally:
        stop(second)
    assert await _credentials(prepared, held["enrollment_id"]) == 1
