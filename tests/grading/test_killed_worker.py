"""A worker killed mid-job loses nothing: another worker's sweep retries the job and it is graded once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Grade
from tests.conftest import make_settings
from tests.fake_anthropic.server import FakeAnthropic
from tests.grading.conftest import GRADING_ENV, Client, _client, assessment, new_learner, wait_for
from tests.grading.test_submissions import _tool_input, _top_points

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def killed_env(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, fake_anthropic_server: FakeAnthropic
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
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
    }


@pytest.fixture(scope="module")
async def kclient(killed_env: dict[str, str], seeded: Any) -> AsyncIterator[Client]:
    settings: Settings = make_settings(
        killed_env["DATABASE_URL"],
        killed_env["REDIS_URL"],
        killed_env["LYCEUM_REDIS_KEY_PREFIX"],
        Path(killed_env["LYCEUM_DATA_DIR"]),
        **{k: v for k, v in killed_env.items() if k.startswith(("LYCEUM_", "ANTHROPIC_"))},
    )
    async for client in _client(settings):
        yield client


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def _grades(settings_env: dict[str, str], org_id: uuid.UUID, submission_id: str) -> int:
    settings = make_settings(
        settings_env["DATABASE_URL"],
        settings_env["REDIS_URL"],
        settings_env["LYCEUM_REDIS_KEY_PREFIX"],
        Path(settings_env["LYCEUM_DATA_DIR"]),
    )
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            count = await session.scalar(
                select(func.count()).select_from(Grade).where(Grade.submission_id == uuid.UUID(submission_id))
            )
    finally:
        await db.dispose()
    return int(count or 0)


async def test_killed_worker_loses_nothing_and_grades_once(
    kclient: Client, killed_env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    # The first model call hangs (the worker is "mid-job" there); every later call answers at once.
    fake_anthropic.script(tool_inputs=[_tool_input(_top_points())], stall_seconds=120, stall_times=1)
    headers = await new_learner(kclient)
    review = await assessment(kclient, headers, "schema-review")
    first = _start_worker(killed_env)
    second: subprocess.Popen[bytes] | None = None
    try:
        accepted = await kclient.post(
            f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": "My careful review."}
        )
        submission_id = accepted.json()["id"]
        await wait_for(kclient, headers, submission_id, "grading")
        for _ in range(400):  # until the model call is in flight (it hangs there)
            if fake_anthropic.message_requests:
                break
            await asyncio.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # no shutdown hooks, no cleanup: the job is left "active"
        first.wait(timeout=10)
        second = _start_worker(killed_env)
        graded = await wait_for(kclient, headers, submission_id, "graded")
        assert graded["score"] == sum(_top_points())
        org_id = uuid.UUID((await kclient.get("/v1/me", headers=headers)).json()["org_id"])
        assert await _grades(killed_env, org_id, submission_id) == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
