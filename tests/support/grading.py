"""Grading runs for real: the API enqueues on Redis, an in-process SAQ worker grades in PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from saq import Worker
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.config import Settings
from jobs.worker import create_worker
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.progress import open_assessments_of
from tests.support.stack import auth_headers, login, make_settings

Client = AsyncTestClient[Litestar]
PASSWORD = "grading-pass-1"
GRADING_ENV = {
    "LYCEUM_REVIEW_SAMPLE_RATE": "0",  # deterministic routing in tests
    # SAQ retries a running job untouched this long. The in-process worker shares its event loop with the test's
    # client and app, and on a loaded machine that loop can stall for seconds: at 2 s a live job was swept and
    # run twice (twice the model requests, a credential job still waiting for its retry). Recovery tests that
    # kill a worker set their own, shorter heartbeat in their own processes.
    "LYCEUM_GRADING_HEARTBEAT_SECONDS": "10",
    "LYCEUM_RATE_LIMIT_SUBMIT_USER": "1000/1s",
}


@pytest.fixture(scope="session")
def grading_settings(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path) -> Settings:
    return make_settings(database_url, redis_url, redis_prefix + "grading:", tmp_data_dir, **GRADING_ENV)


@pytest.fixture(scope="session")
def claude_settings(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, fake_anthropic_server: FakeAnthropic
) -> Settings:
    return make_settings(
        database_url,
        redis_url,
        redis_prefix + "grading-claude:",
        tmp_data_dir,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic_server.base_url,
        LYCEUM_GRADING_RETRIES="2",
        **GRADING_ENV,
    )


async def app_client(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def in_process_worker(settings: Settings) -> AsyncIterator[Worker[Any]]:
    worker = create_worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.start())
    yield worker
    await worker.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="session")
async def gclient(grading_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async for client in app_client(grading_settings):
        yield client


@pytest.fixture(scope="session")
async def gworker(grading_settings: Settings, seeded: Any) -> AsyncIterator[Worker[Any]]:
    async for worker in in_process_worker(grading_settings):
        yield worker


@pytest.fixture(scope="session")
async def cclient(claude_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async for client in app_client(claude_settings):
        yield client


@pytest.fixture(scope="session")
async def cworker(claude_settings: Settings, seeded: Any) -> AsyncIterator[Worker[Any]]:
    async for worker in in_process_worker(claude_settings):
        yield worker


@contextlib.asynccontextmanager
async def learner_session(client: Client, headers: dict[str, str]) -> AsyncIterator[AsyncSession]:
    """A transaction as this learner (their org and user, RLS on), on a pool of this test's event loop."""
    from app.db.engine import Database
    from app.lib.resources import STATE_KEY

    me = (await client.get("/v1/me", headers=headers)).json()
    db = Database.from_settings(getattr(client.app.state, STATE_KEY).settings)
    try:
        async with db.transaction(uuid.UUID(me["org_id"]), uuid.UUID(me["user_id"])) as session:
            yield session
    finally:
        await db.dispose()


async def new_learner(
    client: Client, *, enrol: str | None = "backend-foundations", unlock: bool = True
) -> dict[str, str]:
    admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"grading-{uuid.uuid4().hex[:10]}@demo.test"
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Gail Grader", "roles": ["learner"], "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    tokens = await login(client, email, "demo", PASSWORD)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    if enrol:
        course = await course_by_slug(client, headers, enrol)
        assert (await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)).status_code in (200, 201)
        if unlock:  # a locked or gated assessment refuses answers: open them as a learner who did the work
            from app.lib.resources import STATE_KEY

            await open_assessments_of(getattr(client.app.state, STATE_KEY).settings, email, enrol)
    return headers


async def course_by_slug(client: Client, headers: dict[str, str], slug: str) -> dict[str, Any]:
    courses = (await client.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == slug)
    detail: dict[str, Any] = (await client.get(f"/v1/courses/{course_id}", headers=headers)).json()
    return detail


async def assessment(
    client: Client, headers: dict[str, str], slug: str, course: str = "backend-foundations"
) -> dict[str, Any]:
    detail = await course_by_slug(client, headers, course)
    item = next(i for m in detail["modules"] for i in m["items"] if i["slug"] == slug)
    found: dict[str, Any] = (await client.get(f"/v1/items/{item['id']}/assessment", headers=headers)).json()
    return found


async def wait_for(
    client: Client, headers: dict[str, str], submission_id: str, *statuses: str, deadline_s: float = 60
) -> dict[str, Any]:
    """Poll the submission until it reaches one of ``statuses``; ``deadline_s`` only bounds a failing test."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await client.get(f"/v1/submissions/{submission_id}", headers=headers)).json()
        if body["status"] in statuses:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"submission {submission_id} never reached {statuses}: {body}")


ROOT = Path(__file__).resolve().parents[2]


COURSE = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())


def assessment_spec(slug: str) -> dict[str, Any]:
    item = next(i for m in COURSE["modules"] for i in m["items"] if i["slug"] == slug)
    spec: dict[str, Any] = item["assessment"]
    return spec


def rubric_tool_input(points: list[float]) -> dict[str, Any]:
    criteria = assessment_spec("schema-review")["rubric"]["criteria"]
    return {
        "criteria": [
            {"criterion": c["name"], "level": "x", "points": p, "rationale": f"Quoted: {c['name']}"}
            for c, p in zip(criteria, points, strict=True)
        ]
    }


def top_rubric_points() -> list[float]:
    return [
        max(level["points"] for level in c["levels"]) for c in assessment_spec("schema-review")["rubric"]["criteria"]
    ]
