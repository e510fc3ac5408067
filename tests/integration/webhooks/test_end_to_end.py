"""End to end: an admin registers an endpoint through the API, a learner enrols and completes a lesson
through the API, the real worker (in process: its LISTEN wake-up, relay cron and ``webhooks_deliver`` jobs
on Redis) delivers both events to a receiver on 127.0.0.1, which verifies each signature with the
``standardwebhooks`` verifier; the delivery log shows the receiver's 200s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from saq import Worker

from app.config import Settings
from tests.integration.webhooks.conftest import Client
from tests.support.accounts import bearer, new_member
from tests.support.grading import app_client, in_process_worker
from tests.support.stack import auth_headers, login, make_settings
from tests.support.webhooks import Received, Receiver


@pytest.fixture(scope="module")
def e2e_settings(database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path) -> Settings:
    # Its own queue (key prefix); sweeps every 2 s so a lost wake-up costs seconds, not minutes.
    return make_settings(
        database_url, redis_url, redis_prefix + "webhooks:", tmp_data_dir, LYCEUM_GRADING_HEARTBEAT_SECONDS="2"
    )


@pytest.fixture(scope="module")
async def e2e_client(e2e_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async for client in app_client(e2e_settings):
        yield client


@pytest.fixture(scope="module")
async def worker(e2e_settings: Settings, seeded: Any) -> AsyncIterator[Worker[Any]]:
    async for running in in_process_worker(e2e_settings):
        yield running


async def wait_received(receiver: Receiver, path: str, count: int, deadline_s: float = 60) -> list[Received]:
    """What ``path`` received once it has ``count`` requests; the deadline only bounds a failing test."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        got = receiver.on(path)
        if len(got) >= count:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} received {receiver.on(path)}, expected {count}")


async def test_events_reach_a_receiver_that_verifies_their_signatures(
    e2e_client: Client, worker: Worker[Any], receiver: Receiver, db: Any
) -> None:
    admin = await auth_headers(e2e_client, "admin@demo.test", "demo")
    registered = await e2e_client.post(
        "/v1/admin/webhooks",
        headers=admin,
        json={"url": receiver.url("/e2e"), "events": ["enrollment.created", "item.completed"]},
    )
    assert registered.status_code == 201, registered.text
    hook = registered.json()
    receiver.secrets["/e2e"] = hook["secret"]

    member = await new_member(e2e_client)
    headers = bearer(await login(e2e_client, member["email"], "demo", member["password"]))
    courses = (await e2e_client.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course = courses[0]
    assert (await e2e_client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)).status_code == 201
    detail = (await e2e_client.get(f"/v1/courses/{course['id']}", headers=headers)).json()
    lesson = next(i for m in detail["modules"] for i in m["items"] if i["kind"] == "lesson")
    completion = f"/v1/courses/{course['id']}/items/{lesson['id']}/completion"
    assert (await e2e_client.post(completion, headers=headers)).status_code in (200, 201)

    mine: list[Received] = []
    deadline = time.monotonic() + 60
    while len(mine) < 2 and time.monotonic() < deadline:
        await wait_received(receiver, "/e2e", 1)
        mine = [r for r in receiver.on("/e2e") if r.payload and r.payload["data"].get("user_id") == member["id"]]
        await asyncio.sleep(0.1)
    assert all(r.verified for r in mine), [r.headers for r in mine]
    by_type = {r.payload["type"]: r.payload for r in mine}
    assert set(by_type) == {"enrollment.created", "item.completed"}
    assert by_type["enrollment.created"]["data"]["course_id"] == course["id"]
    assert by_type["item.completed"]["data"] == {
        "enrollment_id": by_type["enrollment.created"]["data"]["enrollment_id"],
        "course_id": course["id"],
        "item_id": lesson["id"],
        "user_id": member["id"],
        "kind": "lesson",
    }
    assert len({r.headers["webhook-id"] for r in mine}) == 2

    # The delivery log, through the API, with the receiver's answers.
    log: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = (await e2e_client.get(f"/v1/admin/webhooks/{hook['id']}/deliveries", headers=admin)).json()["items"]
        if len(log) >= 2 and all(d["status"] == "delivered" for d in log):
            break
        await asyncio.sleep(0.1)
    assert sorted(d["event_type"] for d in log) == ["enrollment.created", "item.completed"]
    assert {(d["status"], d["last_status_code"], d["attempts"]) for d in log} == {("delivered", 200, 1)}
