"""Experiments (issue 17 item 2) over the API: create (validated: prompt versions, keys, rollout, course),
edit rules (variants and course only while draft, the rollout also while running, stopped is read-only),
start and stop (one running experiment per target), every change audited, other orgs see nothing.

Experiments started here run in the demo org, which other modules' tutor turns use: they target one course
or the org, vary nothing the learner sees (no prompt version, the ladder hint policy) and are stopped at the
end of the test that started them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import AuditLogEntry
from tests.integration.credentials.issuer_helpers import org_of
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
BASE = "/v1/admin/experiments"


@pytest.fixture(scope="module")
async def db(settings: Settings, seeded: Any) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@demo.test", "demo")


@pytest.fixture(scope="module")
async def other_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@acme.test", "acme")


@pytest.fixture(scope="module")
async def course_id(client: Client, admin: dict[str, str]) -> str:
    return str((await client.get("/v1/courses", headers=admin)).json()["items"][0]["id"])


def key(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def body(**more: Any) -> dict[str, Any]:
    return {
        "key": key(),
        "description": "Does asking for an attempt first cut hint requests?",
        "prompt": "tutor",
        "rollout_percent": 30,
        "variants": [{"key": "ladder", "prompt_version": None, "hint_policy": "ladder", "weight": 1}],
        **more,
    }


async def create(client: Client, headers: dict[str, str], **more: Any) -> dict[str, Any]:
    response = await client.post(BASE, headers=headers, json=body(**more))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stop_quietly(client: Client, headers: dict[str, str], experiment_id: str) -> None:
    await client.post(f"{BASE}/{experiment_id}/stop", headers=headers)


async def test_create_read_list_and_audit_trail(
    client: Client, admin: dict[str, str], course_id: str, db: Database, settings: Settings
) -> None:
    created = await create(
        client,
        admin,
        course_id=course_id,
        variants=[
            {"key": "v-b", "prompt_version": "socratic-2026-11-b", "hint_policy": "attempt_first", "weight": 2},
            {"key": "same", "weight": 1},
        ],
    )
    assert created["status"] == "draft"
    assert created["course_id"] == course_id
    assert created["course_title"]
    assert created["started_at"] is None
    assert created["stopped_at"] is None
    assert created["variants"] == [
        {"key": "v-b", "prompt_version": "socratic-2026-11-b", "hint_policy": "attempt_first", "weight": 2},
        {"key": "same", "prompt_version": None, "hint_policy": None, "weight": 1},
    ]
    fetched = await client.get(f"{BASE}/{created['id']}", headers=admin)
    assert fetched.status_code == 200
    assert fetched.json() == created
    newer = await create(client, admin)
    assert newer["course_id"] is None
    assert newer["course_title"] is None
    listed = [e["id"] for e in (await client.get(BASE, headers=admin)).json()]
    assert listed.index(newer["id"]) < listed.index(created["id"])  # newest first

    # Draft: everything may change; the audit entry names the changed fields only.
    changed = await client.patch(
        f"{BASE}/{created['id']}",
        headers=admin,
        json={"rollout_percent": 50, "course_id": None, "variants": [{"key": "only"}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["course_id"] is None
    assert changed.json()["rollout_percent"] == 50
    assert (await client.patch(f"{BASE}/{created['id']}", headers=admin, json={"course_id": course_id})).json()[
        "course_id"
    ] == course_id

    started = await client.post(f"{BASE}/{created['id']}/start", headers=admin)
    try:
        assert started.status_code == 200, started.text
        assert started.json()["status"] == "running"
        assert started.json()["started_at"]
        # Running: the rollout (and description) may change; variants and course may not.
        raised = await client.patch(f"{BASE}/{created['id']}", headers=admin, json={"rollout_percent": 60})
        assert raised.status_code == 200
        assert raised.json()["rollout_percent"] == 60
        for locked in ({"variants": [{"key": "other"}]}, {"course_id": None}):
            refused = await client.patch(f"{BASE}/{created['id']}", headers=admin, json=locked)
            assert refused.status_code == 409, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        stopped = await client.post(f"{BASE}/{created['id']}/stop", headers=admin)
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["stopped_at"]
    # Stopped: read-only, cannot be restarted or stopped again.
    assert (await client.patch(f"{BASE}/{created['id']}", headers=admin, json={"description": "x"})).status_code == 409
    assert (await client.post(f"{BASE}/{created['id']}/start", headers=admin)).status_code == 409
    assert (await client.post(f"{BASE}/{created['id']}/stop", headers=admin)).status_code == 409
    assert (await client.post(f"{BASE}/{newer['id']}/stop", headers=admin)).status_code == 409  # a draft

    org = await org_of(settings, "demo")
    async with db.transaction(org) as session:
        entries = list(
            await session.scalars(
                select(AuditLogEntry)
                .where(AuditLogEntry.entity_type == "experiment", AuditLogEntry.entity_id == created["id"])
                .order_by(AuditLogEntry.created_at)
            )
        )
    assert [e.action for e in entries] == [
        "experiment.created",
        "experiment.updated",
        "experiment.updated",
        "experiment.started",
        "experiment.updated",
        "experiment.stopped",
    ]
    first_change = entries[1]
    assert first_change.before is not None
    assert first_change.after is not None
    assert set(first_change.after) == {"rollout_percent", "course_id", "variants"}
    assert first_change.after["rollout_percent"] == 50
    assert first_change.before["rollout_percent"] == 30
    assert entries[4].after == {"rollout_percent": 60}
    assert all(e.actor_id is not None for e in entries)


async def test_one_running_experiment_per_target(client: Client, admin: dict[str, str], course_id: str) -> None:
    course_a = await create(client, admin, course_id=course_id)
    course_b = await create(client, admin, course_id=course_id)
    org_wide = await create(client, admin)
    started: list[str] = []
    try:
        assert (await client.post(f"{BASE}/{course_a['id']}/start", headers=admin)).status_code == 200
        started.append(course_a["id"])
        busy = await client.post(f"{BASE}/{course_b['id']}/start", headers=admin)
        assert busy.status_code == 409, busy.text
        assert busy.json()["status"] == 409
        # The org-wide target is another target: it may run beside the course's own.
        assert (await client.post(f"{BASE}/{org_wide['id']}/start", headers=admin)).status_code == 200
        started.append(org_wide["id"])
        # Starting a running experiment again changes nothing.
        again = await client.post(f"{BASE}/{course_a['id']}/start", headers=admin)
        assert again.status_code == 200
        assert again.json()["started_at"] is not None
        assert (await client.get(f"{BASE}/{course_b['id']}", headers=admin)).json()["status"] == "draft"
    finally:
        for experiment_id in started:
            await stop_quietly(client, admin, experiment_id)
    # Once stopped, the target is free again.
    assert (await client.post(f"{BASE}/{course_b['id']}/start", headers=admin)).status_code == 200
    await stop_quietly(client, admin, course_b["id"])


async def test_duplicate_experiment_key_is_a_conflict(client: Client, admin: dict[str, str]) -> None:
    first = await create(client, admin)
    again = await client.post(BASE, headers=admin, json=body(key=first["key"]))
    assert again.status_code == 409, again.text


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"rollout_percent": 101}, 422),
        ({"rollout_percent": -1}, 422),
        ({"key": "Has Spaces"}, 422),
        ({"key": ""}, 422),
        ({"key": "x" * 61}, 422),
        ({"prompt": "grading"}, 422),
        ({"variants": []}, 422),
        ({"variants": [{"key": f"v{n}"} for n in range(6)]}, 422),
        ({"variants": [{"key": "a"}, {"key": "a"}]}, 422),
        ({"variants": [{"key": "control"}]}, 422),
        ({"variants": [{"key": "a", "prompt_version": "no-such-version"}]}, 422),
        ({"variants": [{"key": "a", "hint_policy": "give_answer"}]}, 422),
        ({"variants": [{"key": "a", "weight": 0}]}, 422),
        ({"variants": [{"key": "a", "surprise": 1}]}, 422),
        ({"course_id": str(uuid.uuid4())}, 422),
        ({"course_id": "not-a-uuid"}, 422),
        ({"description": "nul\u0000byte"}, 422),
        ({"key": "nul\u0000"}, None),
        ({"unknown": True}, 422),
    ],
)
async def test_bad_input_is_a_4xx_problem(
    client: Client, admin: dict[str, str], change: dict[str, Any], status: int | None
) -> None:
    response = await client.post(BASE, headers=admin, json=body(**change))
    if status is None:
        assert 400 <= response.status_code < 500, response.text
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_bad_patch_input_and_unknown_ids(client: Client, admin: dict[str, str]) -> None:
    draft = await create(client, admin)
    for change in ({"rollout_percent": 101}, {"variants": [{"key": "control"}]}, {"description": "a\u0000"}):
        response = await client.patch(f"{BASE}/{draft['id']}", headers=admin, json=change)
        assert 400 <= response.status_code < 500, response.text
    missing = uuid.uuid4()
    for method, path in (
        ("GET", f"{BASE}/{missing}"),
        ("PATCH", f"{BASE}/{missing}"),
        ("POST", f"{BASE}/{missing}/start"),
        ("POST", f"{BASE}/{missing}/stop"),
        ("GET", f"{BASE}/{missing}/results"),
    ):
        response = await client.request(method, path, headers=admin, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get(f"{BASE}/not-a-uuid", headers=admin)).status_code in (400, 404)


async def test_another_org_cannot_see_or_touch_it(
    client: Client, admin: dict[str, str], other_admin: dict[str, str]
) -> None:
    mine = await create(client, admin)
    theirs = (await client.get(BASE, headers=other_admin)).json()
    assert mine["id"] not in [e["id"] for e in theirs]
    for method, path in (
        ("GET", f"{BASE}/{mine['id']}"),
        ("PATCH", f"{BASE}/{mine['id']}"),
        ("POST", f"{BASE}/{mine['id']}/start"),
        ("POST", f"{BASE}/{mine['id']}/stop"),
        ("GET", f"{BASE}/{mine['id']}/results"),
    ):
        response = await client.request(
            method, path, headers=other_admin, json={"rollout_percent": 90} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    # The same key is free in another org.
    assert (await client.post(BASE, headers=other_admin, json=body(key=mine["key"]))).status_code == 201
    assert (await client.get(f"{BASE}/{mine['id']}", headers=admin)).json()["rollout_percent"] == 30


async def test_only_admins(client: Client) -> None:
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    learner = await auth_headers(client, "learner@demo.test", "demo")
    for headers in (instructor, learner):
        assert (await client.get(BASE, headers=headers)).status_code == 403
        assert (await client.post(BASE, headers=headers, json=body())).status_code == 403
    assert (await client.get(BASE)).status_code == 401
