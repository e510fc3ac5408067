"""Progress: completing items appends to the learner's event stream; the fold decides done/unlocked/locked."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import ProgressEvent
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


async def _new_learner(client: Client) -> dict[str, str]:
    """A learner of their own, so these tests never see another test's enrollments."""
    admin = await auth_headers(client, "admin@demo.test", "demo")
    email = f"progress-{uuid.uuid4().hex[:10]}@demo.test"
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Progress Learner", "roles": ["learner"], "password": "progress-pass-1"},
    )
    assert created.status_code == 201, created.text
    tokens = await client.post("/v1/auth/login", json={"email": email, "password": "progress-pass-1", "org": "demo"})
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def _course(client: Client, headers: dict[str, str], slug: str = "backend-foundations") -> dict[str, Any]:
    listing = (await client.get("/v1/courses", headers=headers, params={"q": "Backend"})).json()["items"]
    course_id = next(c["id"] for c in listing if c["slug"] == slug)
    detail: dict[str, Any] = (await client.get(f"/v1/courses/{course_id}", headers=headers)).json()
    detail["by_slug"] = {i["slug"]: i for m in detail["modules"] for i in m["items"]}
    return detail


def _completion(course: dict[str, Any], slug: str) -> str:
    return f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion"


async def test_completing_needs_an_enrollment(client: Client) -> None:
    headers = await _new_learner(client)
    course = await _course(client, headers)
    progress = (await client.get(f"/v1/courses/{course['id']}/progress", headers=headers)).json()
    assert progress["enrolled"] is False
    assert progress["completed_items"] == 0
    refused = await client.post(_completion(course, "http-request-lifecycle"), headers=headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "not_enrolled"


async def test_complete_unlocks_the_next_item_and_is_idempotent(client: Client) -> None:
    headers = await _new_learner(client)
    course = await _course(client, headers)
    await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    before = (await client.get(f"/v1/courses/{course['id']}/progress", headers=headers)).json()
    states = {s["item_id"]: s["state"] for s in before["items"]}
    first, second = course["by_slug"]["http-request-lifecycle"], course["by_slug"]["designing-resources"]
    assert states[first["id"]] == "unlocked"
    assert states[second["id"]] == "locked"
    assert before["next_item_id"] == first["id"]

    done = await client.post(_completion(course, "http-request-lifecycle"), headers=headers)
    assert done.status_code == 201, done.text
    after = {s["item_id"]: s["state"] for s in done.json()["progress"]["items"]}
    assert after[first["id"]] == "done"
    assert after[second["id"]] == "unlocked"
    again = await client.post(_completion(course, "http-request-lifecycle"), headers=headers)
    assert again.status_code == 200
    assert again.json()["event_version"] == done.json()["event_version"]

    enrollments = (await client.get("/v1/enrollments", headers=headers)).json()["items"]
    mine = next(e for e in enrollments if e["course_id"] == course["id"])
    assert mine["completed_items"] == 1
    assert mine["total_items"] == before["total_items"]
    assert mine["percent"] == 100 // before["total_items"]


async def test_locked_items_and_assessments_cannot_be_marked_done(client: Client) -> None:
    headers = await _new_learner(client)
    course = await _course(client, headers)
    await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    locked = await client.post(_completion(course, "designing-resources"), headers=headers)
    assert locked.status_code == 409
    assert locked.json()["code"] == "locked"
    assert locked.json()["missing_prerequisites"] == [course["by_slug"]["http-request-lifecycle"]["id"]]
    for slug in ("http-request-lifecycle", "designing-resources"):
        assert (await client.post(_completion(course, slug), headers=headers)).status_code == 201
    quiz = await client.post(_completion(course, "http-fundamentals-quiz"), headers=headers)
    assert quiz.status_code == 409
    assert quiz.json()["code"] == "graded"


async def test_unknown_and_other_org_courses_are_not_found(client: Client) -> None:
    headers = await _new_learner(client)
    acme = await auth_headers(client, "admin@acme.test", "acme")
    acme_course = (await client.get("/v1/courses", headers=acme)).json()["items"][0]["id"]
    for course_id in (acme_course, str(uuid.uuid4())):
        assert (await client.get(f"/v1/courses/{course_id}/progress", headers=headers)).status_code == 404
    course = await _course(client, headers)
    unknown_item = f"/v1/courses/{course['id']}/items/{uuid.uuid4()}/completion"
    assert (await client.post(unknown_item, headers=headers)).status_code == 404


async def test_concurrent_completions_keep_the_stream_gap_free(client: Client, settings: Settings) -> None:
    headers = await _new_learner(client)
    course = await _course(client, headers)
    enrollment = (await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)).json()
    await client.post(_completion(course, "http-request-lifecycle"), headers=headers)
    await client.post(_completion(course, "designing-resources"), headers=headers)
    # The same item twice and another item, at once: one event each, versions 1..n with no gaps.
    paths = [_completion(course, s) for s in ("bookmarks-api-design", "bookmarks-api-design", "bookmarks-api-design")]
    answers = await asyncio.gather(*(client.post(p, headers=headers) for p in paths))
    assert sorted(a.status_code for a in answers) == [200, 200, 201]
    org_id = uuid.UUID((await client.get("/v1/me", headers=headers)).json()["org_id"])
    db = Database.from_settings(settings)  # the app's own engine lives on the test client's event loop
    async with db.transaction(org_id) as session:
        versions = list(
            await session.scalars(
                select(ProgressEvent.version)
                .where(ProgressEvent.stream_id == uuid.UUID(enrollment["id"]))
                .order_by(ProgressEvent.version)
            )
        )
    await db.dispose()
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) == 4


async def test_enrolling_opens_the_stream_once(client: Client, settings: Settings) -> None:
    """Enrollment lives in progress (issue 11): the first enroll is 201 and opens the stream with one
    ``enrolled`` event (version 1); enrolling again is 200, the same enrollment, and writes nothing."""
    headers = await _new_learner(client)
    course = await _course(client, headers)
    first = await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    again = await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    listed = (await client.get("/v1/enrollments", headers=headers)).json()["items"]
    assert [(e["id"], e["completed_items"], e["percent"]) for e in listed] == [(first.json()["id"], 0, 0)]
    org_id = uuid.UUID((await client.get("/v1/me", headers=headers)).json()["org_id"])
    db = Database.from_settings(settings)
    async with db.transaction(org_id) as session:
        stream = list(
            await session.execute(
                select(ProgressEvent.version, ProgressEvent.type, ProgressEvent.payload)
                .where(ProgressEvent.stream_id == uuid.UUID(first.json()["id"]))
                .order_by(ProgressEvent.version)
            )
        )
    await db.dispose()
    assert [(v, t, p) for v, t, p in stream] == [(1, "enrolled", {"course_slug": course["slug"]})]


@pytest.mark.parametrize("body", [None, {"unexpected": True}])
async def test_completion_ignores_no_body(client: Client, body: Any) -> None:
    headers = await _new_learner(client)
    course = await _course(client, headers)
    await client.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    answer = await client.post(_completion(course, "http-request-lifecycle"), headers=headers, json=body)
    assert answer.status_code in (200, 201)
